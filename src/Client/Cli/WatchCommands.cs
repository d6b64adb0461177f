using System.CommandLine;
using Spectre.Console;
using static HvOrleans.Client.Cli.Symbols;

namespace HvOrleans.Client.Cli;

/// <summary><c>hv watch host|vm</c>: a live view, redrawn every interval until Ctrl+C (or <c>--count</c> frames).</summary>
public sealed class WatchCommands(TextWriter output, CommandTree tree, Func<Func<IGrainFactory, Task>, CancellationToken, Task<int>> onCluster)
{
    public Command Watch()
    {
        Option<int> Interval() => IntIn("--interval-s", "Seconds between refreshes", 1, 3600, 1, "S");
        Option<int> Count() => IntIn("--count", "Stop after this many refreshes (0: until Ctrl+C)", 0, int.MaxValue, 0, "N");
        var (host, hostInterval, hostCount) = (Id("host", "host id"), Interval(), Count());
        var (vm, vmInterval, vmCount) = (Id("vm", "VM id"), Interval(), Count());
        return tree.Group("watch", "A live view of a host or a VM, refreshed every second: Assigned, Demand, Pressure, Status, a bar per VM, running backups.",
            ["hv watch host h1", "hv watch vm vm1"],
            tree.Leaf("host", "A host's VMs: Assigned, Demand, Pressure, Status, and a bar of startup, hot-added and ballooned memory; running backups with progress.",
                ["hv watch host h1", "hv watch host h1 --count 1 --json"], [host, hostInterval, hostCount, Json],
                (p, ct) => onCluster(grains => Loop(grains, p.GetValue(host)!, vmId: null, p.GetValue(hostInterval), p.GetValue(hostCount), p.GetValue(Json), ct), ct)),
            tree.Leaf("vm", "One VM: its Memory tab beside the guest's own figures, its bar, and its running backup.",
                ["hv watch vm vm1", "hv watch vm vm1 --interval-s 5"], [vm, vmInterval, vmCount, Json],
                async (p, ct) => await onCluster(async grains =>
                {
                    string vmId = p.GetValue(vm)!;
                    await Loop(grains, await grains.GetGrain<IVmGrain>(vmId).GetHostId(), vmId, p.GetValue(vmInterval), p.GetValue(vmCount), p.GetValue(Json), ct);
                }, ct)));
    }

    private async Task Loop(IGrainFactory grains, string hostId, string? vmId, int intervalSeconds, int count, bool json, CancellationToken cancellationToken)
    {
        bool live = !json && !Console.IsOutputRedirected && ReferenceEquals(output, Console.Out);
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = live ? AnsiSupport.Detect : AnsiSupport.No });
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(intervalSeconds));
        for (int frames = 0; count == 0 || frames < count; frames++)
        {
            if (frames > 0 && !await Tick(timer, cancellationToken)) break;
            var frame = await ReadAsync(grains, hostId, vmId);
            if (json)
            {
                output.Write(JsonOutput.Serialize(WatchJson.Of(frame.Host, frame.Vms, frame.Backups, frame.At)) + "\n");
                continue;
            }
            var (width, height) = live ? (Console.WindowWidth, Console.WindowHeight) : (80, 24);
            if (live) output.Write("\x1b[H\x1b[J");
            console.Write(new Markup(string.Join('\n', WatchView.Lines(frame, width, height - (live ? 1 : 0))) + "\n"));
        }
    }

    private static async Task<bool> Tick(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public static async Task<WatchFrame> ReadAsync(IGrainFactory grains, string hostId, string? vmId)
    {
        var (host, vms, jobs) = await HostReads.ReadAsync(grains, hostId, vmId);
        return new WatchFrame(host, vms, jobs, DateTimeOffset.Now, vmId);
    }
}
