using System.Diagnostics;
using System.Globalization;

namespace HvOrleans.Tools;

/// <summary>
/// <c>hv guest bench --host H [--steps 20]</c>, on a host run by hv-agent: per step, boot a real VM,
/// load it past Startup, drop the load, load it again, stop it. Each latency is timed by the guest's
/// own clock, from <c>memload</c> returning to the change being visible inside the guest: hot-add in
/// its MemTotal, the balloon and its return in its own counters (/proc/vmstat). Boot time is from
/// <c>hv vm start</c> answering to the guest's first statistics report.
/// </summary>
public sealed class GuestBench(TextWriter output, TextWriter error)
{
    // Minimum = Startup keeps the idle guest unballooned, so that a load which fits in its free memory
    // at once (no ramp, no OOM) still needs a hot-add: demand ≈ 160 MB idle + 290 MB, × 1.2 > 512 MB.
    private const int StartupMb = 512, MinimumMb = 512, MaximumMb = 1536, LoadMb = 290, LoadRateMbPerS = 4096;

    public static Func<IGrainFactory, ClusterConnectionOptions, Task<bool>> Command(CommandLine line, TextWriter output, TextWriter error)
    {
        string hostId = line.Text("host") ?? throw new UsageException("--host is required (a host run by hv-agent: infra/agent.sh start <host>).");
        int steps = line.IntIn("steps", 1, 1000, fallback: 20);
        bool json = line.Json;
        return async (grains, _) => { await new GuestBench(output, error).RunAsync(grains, hostId, steps, json); return true; };
    }

    public async Task RunAsync(IGrainFactory grains, string hostId, int steps, bool json)
    {
        var host = grains.GetGrain<IHostGrain>(hostId);
        var info = await host.GetInfo();
        Rule.Require(info.Driver == HostDriver.Qemu, "host-driver", $"Host {hostId} runs modelled guests; the guest benchmark needs an agent's host (infra/agent.sh start {hostId}).");
        string vmId = $"gbench-{Guid.NewGuid():N}"[..14];
        var vm = grains.GetGrain<IVmGrain>(vmId);
        await vm.Create(hostId, new VmConfig(StartupMb, MinimumMb, MaximumMb));
        var boot = new List<double>();
        List<(double FromCommand, double FromLoaded)> hotAdd = [], balloon = [], unballoon = [];
        try
        {
            for (int step = 1; step <= steps; step++)
            {
                var clock = Stopwatch.StartNew();
                await vm.Start();
                while ((await vm.GetInfo()).Real?.State != GuestRunState.Running)
                    await Task.Delay(50);
                boot.Add(clock.Elapsed.TotalSeconds);
                await SettledAsync(vm);
                hotAdd.Add(await TimeInGuestAsync(host, vmId, $"memload {LoadMb} {LoadRateMbPerS}", "total", "-gt"));
                await SettledAsync(vm);
                balloon.Add(await TimeInGuestAsync(host, vmId, "memload 0", "balloon", "-gt"));
                await SettledAsync(vm);
                unballoon.Add(await TimeInGuestAsync(host, vmId, $"memload {LoadMb} {LoadRateMbPerS}", "balloon", "-lt"));
                await vm.Stop();
                while ((await vm.GetInfo()).Real is not null) await Task.Delay(100);
                error.WriteLine($"step {step}/{steps}: boot {boot[^1]:0.00} s, hot-add {hotAdd[^1].FromCommand:0.00} s ({hotAdd[^1].FromLoaded:0.00} s after the load), " +
                    $"balloon {balloon[^1].FromCommand:0.00} s, unballoon {unballoon[^1].FromCommand:0.00} s ({unballoon[^1].FromLoaded:0.00} s after the load)");
            }
        }
        finally
        {
            try { await vm.Stop(); } catch (Exception e) { error.WriteLine($"stopping {vmId}: {e.Message}"); }
        }
        var result = new GuestBenchJson(steps, Stats(boot), Stats(hotAdd.Select(h => h.FromCommand).ToList()), Stats(hotAdd.Select(h => h.FromLoaded).ToList()),
            Stats(balloon.Select(h => h.FromCommand).ToList()), Stats(unballoon.Select(h => h.FromCommand).ToList()), Stats(unballoon.Select(h => h.FromLoaded).ToList()));
        output.WriteLine(json ? JsonOutput.Serialize(result)
            : $"""
              {steps} steps on host {hostId} (a {StartupMb}/{MinimumMb}/{MaximumMb} MB guest, load {LoadMb} MB at {LoadRateMbPerS} MB/s)
                                     p50 s   p99 s   max s
                boot to report      {result.BootSeconds.P50,6:0.00}  {result.BootSeconds.P99,6:0.00}  {result.BootSeconds.Max,6:0.00}
                memload -> hot-add  {result.HotAddSeconds.P50,6:0.00}  {result.HotAddSeconds.P99,6:0.00}  {result.HotAddSeconds.Max,6:0.00}
                loaded  -> hot-add  {result.HotAddAfterLoadSeconds.P50,6:0.00}  {result.HotAddAfterLoadSeconds.P99,6:0.00}  {result.HotAddAfterLoadSeconds.Max,6:0.00}
                drop    -> balloon  {result.BalloonSeconds.P50,6:0.00}  {result.BalloonSeconds.P99,6:0.00}  {result.BalloonSeconds.Max,6:0.00}
                memload -> unballoon{result.UnballoonSeconds.P50,6:0.00}  {result.UnballoonSeconds.P99,6:0.00}  {result.UnballoonSeconds.Max,6:0.00}
                loaded  -> unballoon{result.UnballoonAfterLoadSeconds.P50,6:0.00}  {result.UnballoonAfterLoadSeconds.P99,6:0.00}  {result.UnballoonAfterLoadSeconds.Max,6:0.00}
              """);
    }

    /// <summary>Each step starts from rest: the devices hold what was decided, and nothing has changed for 2 s.</summary>
    private static async Task SettledAsync(IVmGrain vm)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        (int, int, int)? last = null;
        var since = DateTime.UtcNow;
        while (DateTime.UtcNow < deadline)
        {
            var info = await vm.GetInfo();
            var m = info.Snapshot.Memory;
            if (info.Real is { } real && real.BalloonedMb == m.BalloonedMb && real.PluggedMb == m.HotAddedMb(info.Snapshot.Config))
            {
                var now = (m.AssignedMb, real.BalloonedMb, real.PluggedMb);
                if (now != last) (last, since) = (now, DateTime.UtcNow);
                else if (DateTime.UtcNow - since > TimeSpan.FromSeconds(2)) return;
            }
            else last = null;
            await Task.Delay(100);
        }
        throw new HvRuleException("guest-bench", "The guest did not settle within 60 s (its devices never held what was decided).");
    }

    /// <summary>
    /// Runs <paramref name="command"/> in the guest, then, by the guest's own clock, waits for its
    /// MemTotal ("total") or its balloon pages ("balloon") to move past where they were before.
    /// </summary>
    private static async Task<(double FromCommand, double FromLoaded)> TimeInGuestAsync(IHostGrain host, string vmId, string command, string what, string direction)
    {
        string read = what == "total"
            ? "awk '/MemTotal/{print $2}' /proc/meminfo"
            : "awk '/^balloon_inflate/{i=$2} /^balloon_deflate/{d=$2} END{print i-d}' /proc/vmstat";
        string script = $"""
            before=$({read}); {command}; t0=$(cut -d' ' -f1 /proc/uptime)
            loaded=""
            until [ "$({read})" {direction} "$before" ]; do
              [ -z "$loaded" ] && [ ! -e /run/memload/grower.pid ] && loaded=$(cut -d' ' -f1 /proc/uptime)
              sleep 0.1
            done
            t1=$(cut -d' ' -f1 /proc/uptime); [ -z "$loaded" ] && loaded=$t1; echo "$t0 $loaded $t1"
            """;
        var result = await host.ExecInGuest(vmId, ["sh", "-c", script], TimeSpan.FromSeconds(25));
        if (result.ExitCode != 0) throw new HvRuleException("guest-bench", $"The guest's timing script failed ({result.ExitCode}): {result.StdErr}");
        var times = result.StdOut.Trim().Split(' ').Select(t => double.Parse(t, CultureInfo.InvariantCulture)).ToArray();
        // From the command returning, and from the load being wholly in place (under TCG the guest
        // itself needs ~2.5 s to write 290 MB): the second is the control plane's own reaction.
        return (times[2] - times[0], Math.Max(0, times[2] - times[1]));
    }

    private static LatencyJson Stats(List<double> seconds)
    {
        var sorted = seconds.Order().ToArray();
        double At(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        return new(Math.Round(At(0.5), 3), Math.Round(At(0.99), 3), Math.Round(sorted[^1], 3), sorted.Length);
    }
}
