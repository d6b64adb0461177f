using System.Text.Json;
using HvOrleans.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HvOrleans.Tests.RealGuests;

/// <summary>
/// Real Linux guests under QEMU (TCG here), run by a real hv-agent process for a real silo on
/// Azurite, driven and read through hv. Every memory figure asserted is read from the guest itself
/// (/proc/meminfo, /proc/vmstat) or from QEMU's devices, against what hv says was decided.
/// </summary>
[Collection(GuestCollection.Name)]
public sealed class RealGuestTests(AzuriteFixture azurite, ITestOutputHelper log)
{
    private const int StartupMb = 512, MinimumMb = 256, MaximumMb = 1536;

    [Fact]
    public async Task Guests_get_hot_add_for_load_give_it_back_to_the_balloon_and_serve_demand_first_in_a_shortage()
    {
        var cluster = new ClusterSettings(azurite.ConnectionString);
        var hv = new HvConsole(cluster);
        await using var silo = await SiloProcess.StartAsync(cluster);
        await using var agent = await AgentProcess.StartAsync(cluster, "rg1", memoryMb: 1792);
        try
        {
            var host = await hv.JsonAsync("host", "show", "rg1");
            Assert.Equal(("qemu", "tcg", true), (host.GetProperty("driver").GetString(), host.GetProperty("accel").GetString(), host.GetProperty("agentConnected").GetBoolean()));
            await CreateAndStartAsync(hv, "heavy", weight: 8000);
            await CreateAndStartAsync(hv, "light", weight: 2000);
            var bootKb = new Dictionary<string, long>();
            foreach (var vm in new[] { "heavy", "light" })
            {
                var booted = await GuestShell.RunningAsync(hv, vm);
                Assert.Equal(0, booted.GetProperty("real").GetProperty("devicePluggedMb").GetInt32());
                bootKb[vm] = (await GuestAsync(hv, vm)).MemTotalKb;
                // Booted with Startup as its RAM: the guest sees it less what its kernel keeps.
                Assert.InRange(bootKb[vm], (StartupMb - 160) * 1024L, StartupMb * 1024L);
            }
            Assert.Equal(bootKb["heavy"], bootKb["light"]);

            // Load: demand grows past Startup; the guest gets hot-added 128 MB blocks and sees them.
            await hv.OkAsync("vm", "exec", "heavy", "--", "memload", "700");
            await LoadedAsync(hv, "heavy", 700);
            var loaded = await SettledAsync(hv, "heavy", bootKb["heavy"], v => v.Status == "OK");
            log.WriteLine($"loaded: {loaded}");
            Assert.True(loaded.HotAddedMb > 0 && loaded.HotAddedMb % 128 == 0, $"hot-added {loaded.HotAddedMb} MB is not whole 128 MB blocks");
            Assert.Equal(loaded.HotAddedMb, loaded.DevicePluggedMb);
            Assert.Equal(bootKb["heavy"] + loaded.HotAddedMb * 1024L, loaded.Guest.MemTotalKb);
            Assert.True(loaded.DemandMb >= 700, $"demand {loaded.DemandMb} MB below the 700 MB the guest holds");

            // Unload: the balloon takes memory back toward the target, never below Minimum; the
            // hot-added total stays (Hyper-V never shrinks it while the VM runs).
            await hv.OkAsync("vm", "exec", "heavy", "--", "memload", "0");
            var idle = await SettledAsync(hv, "heavy", bootKb["heavy"], v => v.AssignedMb < loaded.AssignedMb - 256);
            log.WriteLine($"idle: {idle}");
            Assert.True(idle.AssignedMb >= MinimumMb, $"assigned {idle.AssignedMb} MB below Minimum");
            Assert.Equal(loaded.HotAddedMb, idle.HotAddedMb);
            Assert.Equal(idle.AssignedMb, StartupMb + idle.DevicePluggedMb - idle.DeviceBalloonedMb);
            Assert.Equal(idle.DeviceBalloonedMb, idle.Guest.BalloonMb);

            // Shortage: both loaded alike on a host that cannot give both their buffer. Demand is
            // served first, then buffer, and all of the host is given out; who gets the buffer depends
            // on weight above each guest's balloon floor (the exact shares are the grain tests' to check:
            // here, what a guest already holds within its floor is not taken back, as Hyper-V's is not).
            await hv.OkAsync("vm", "exec", "heavy", "--", "memload", "600");
            await hv.OkAsync("vm", "exec", "light", "--", "memload", "600");
            await LoadedAsync(hv, "heavy", 600);
            await LoadedAsync(hv, "light", 600);
            var heavy = await SettledAsync(hv, "heavy", bootKb["heavy"], v => v.DemandMb >= 600);
            var light = await SettledAsync(hv, "light", bootKb["light"], v => v.DemandMb >= 600);
            log.WriteLine($"shortage: {heavy} / {light}");
            Assert.Equal(1792, heavy.AssignedMb + light.AssignedMb);
            Assert.Contains("Low", new[] { heavy.Status, light.Status });
            Assert.DoesNotContain("Warning", new[] { heavy.Status, light.Status });
        }
        catch
        {
            log.WriteLine(agent.Output);
            throw;
        }
    }

    [Fact]
    public async Task Under_the_default_policy_a_loading_guest_is_hot_added_before_it_is_full()
    {
        // A real guest's demand cannot show more than it has, and a starved guest cannot online hot-added memory:
        // asked for more than its 512 MB, it must be grown while it still has room (with hot-add for demand only,
        // predict let it fill up first, and it thrashed until its guest agent timed out).
        var cluster = new ClusterSettings(azurite.ConnectionString) { DefaultPolicy = null };
        var hv = new HvConsole(cluster);
        await using var silo = await SiloProcess.StartAsync(cluster);
        await using var agent = await AgentProcess.StartAsync(cluster, "rg2", memoryMb: 1792);
        try
        {
            Assert.Equal("predict", (await hv.JsonAsync("host", "show", "rg2")).GetProperty("policy").GetString());
            await hv.OkAsync("vm", "create", "full", "--host", "rg2", "--startup-mb", $"{StartupMb}", "--min-mb", $"{MinimumMb}", "--max-mb", $"{MaximumMb}");
            await hv.OkAsync("vm", "start", "full");
            await GuestShell.RunningAsync(hv, "full");
            long bootKb = (await GuestAsync(hv, "full")).MemTotalKb;

            await hv.OkAsync("vm", "exec", "full", "--", "memload", "600");
            await LoadedAsync(hv, "full", 600);
            var loaded = await SettledAsync(hv, "full", bootKb, v => v.HotAddedMb > 0);
            log.WriteLine($"loaded under predict: {loaded}");
            Assert.True(loaded.HotAddedMb % 128 == 0, $"hot-added {loaded.HotAddedMb} MB is not whole 128 MB blocks");
            Assert.Equal(bootKb + loaded.HotAddedMb * 1024L, loaded.Guest.MemTotalKb);
            Assert.True(loaded.DemandMb >= 600, $"demand {loaded.DemandMb} MB below the 600 MB the guest holds");
        }
        catch
        {
            log.WriteLine(agent.Output);
            throw;
        }
    }

    private static async Task CreateAndStartAsync(HvConsole hv, string vm, int weight)
    {
        await hv.OkAsync("vm", "create", vm, "--host", "rg1", "--startup-mb", $"{StartupMb}", "--min-mb", $"{MinimumMb}",
            "--max-mb", $"{MaximumMb}", "--weight", $"{weight}");
        await hv.OkAsync("vm", "start", vm);
    }

    /// <summary>Waits until the guest's memload has taken all it was asked for.</summary>
    private static Task LoadedAsync(HvConsole hv, string vm, int mb) =>
        Eventually.WaitForAsync(async () => (await hv.RunAsync("vm", "exec", vm, "--", "sh", "-c", "ls /run/memload | grep -c '^chunk' ; ls /run/memload | grep -c grower || true")).Stdout,
            output => output.Split('\n', StringSplitOptions.RemoveEmptyEntries) is [var chunks, "0"] && int.Parse(chunks) == (mb + 15) / 16,
            $"{vm} holding {mb} MB", seconds: 90);

    /// <summary>
    /// A moment when hv's decision, QEMU's devices and the guest agree and stay put: the decision
    /// read before and after the guest, the devices holding exactly Assigned, the guest's MemTotal
    /// exactly its boot total plus what virtio-mem plugged, and its balloon exactly the device's.
    /// </summary>
    private static async Task<VmView> SettledAsync(HvConsole hv, string vm, long bootKb, Func<VmView, bool> wanted)
    {
        var settled = await Eventually.WaitForAsync(async () =>
        {
            var before = View(await hv.JsonAsync("vm", "show", vm), null);
            var guest = await GuestAsync(hv, vm);
            var after = View(await hv.JsonAsync("vm", "show", vm), guest);
            // Demand moves a little every second; the decision and the devices must not have.
            return (Same: before with { Guest = guest, DemandMb = after.DemandMb, Status = after.Status } == after, View: after);
        }, r => r.Same && wanted(r.View)
            && r.View.AssignedMb == StartupMb + r.View.DevicePluggedMb - r.View.DeviceBalloonedMb
            && r.View.Guest.MemTotalKb == bootKb + r.View.DevicePluggedMb * 1024L
            && r.View.Guest.BalloonMb == r.View.DeviceBalloonedMb,
            $"{vm} settled", seconds: 90);
        return settled.View;
    }

    private static VmView View(JsonElement v, GuestFigures? guest)
    {
        var real = v.GetProperty("real");
        return new(v.GetProperty("assignedMb").GetInt32(), v.GetProperty("demandMb").GetInt32(), v.GetProperty("hotAddedMb").GetInt32(),
            v.GetProperty("status").GetString()!, real.GetProperty("devicePluggedMb").GetInt32(), real.GetProperty("deviceBalloonedMb").GetInt32(),
            guest ?? new GuestFigures(0, 0));
    }

    /// <summary>The guest's own MemTotal, and its balloon from its own counters (pages inflated − deflated).</summary>
    private static async Task<GuestFigures> GuestAsync(HvConsole hv, string vm)
    {
        string stdout = await GuestShell.ExecAsync(hv, vm, "sh", "-c", "grep MemTotal /proc/meminfo; grep -E '^balloon_(inflate|deflate)' /proc/vmstat");
        var values = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .ToDictionary(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0].TrimEnd(':'), l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]));
        long balloonPages = values["balloon_inflate"] - values["balloon_deflate"];
        return new(values["MemTotal"], (int)(balloonPages * 4 / 1024));
    }

    private sealed record GuestFigures(long MemTotalKb, int BalloonMb);

    private sealed record VmView(int AssignedMb, int DemandMb, int HotAddedMb, string Status, int DevicePluggedMb, int DeviceBalloonedMb, GuestFigures Guest);
}
