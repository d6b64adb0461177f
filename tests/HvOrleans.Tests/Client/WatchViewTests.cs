using HvOrleans.Backup;
using HvOrleans.Client.Cli;
using Spectre.Console;
using Spectre.Console.Testing;

namespace HvOrleans.Tests.Client;

/// <summary>
/// <c>hv watch</c>'s screen rendered by Spectre.Console into an 80×24 test console: nothing wraps,
/// nothing scrolls, and the figures on it are the frame's.
/// </summary>
public sealed class WatchViewTests
{
    private static readonly VmConfig Config = new(StartupMb: 1024, MinimumMb: 512, MaximumMb: 4096, BufferPercent: 20, Weight: 5000);

    private static VmInfo Vm(string vmId, Func<VmMemory, VmMemory> change) =>
        VmInfo.Of(new VmSnapshot(vmId, "h1", Config, change(VmMemory.Boot(Config))));

    private static WatchFrame Frame(int vms, string? focus = null)
    {
        var list = Enumerable.Range(0, vms).Select(i => i switch
        {
            0 => Vm("vm-000-hot-added-and-a-very-long-name", m => m.WithDemand(2400).ResizeTo(Config, 2880, 4096)),
            1 => Vm("vm-001", m => m.WithDemand(600).ResizeTo(Config, 720, 4096)),
            2 => Vm("vm-002", m => m.WithDemand(3000)),
            _ => Vm($"vm-{i:000}", m => m.WithDemand(700)),
        }).ToList();
        var host = new HostInfo("h1", 65_536, 1024, list.ToDictionary(v => v.Snapshot.VmId, v => v.HostView.AssignedMb));
        var copying = BackupVmProgress.Pending("vm-001", "job-nightly") with { Step = BackupStep.Snapshot, BytesCopied = 400L << 20, BytesTotal = 1000L << 20, FreezeWindowMs = 74.2 };
        var job = new BackupJobInfo("job-nightly", JobState.Running, false, [copying], "silo-1", false);
        return new WatchFrame(host, list, [job], new DateTimeOffset(2026, 11, 28, 17, 5, 9, TimeSpan.Zero), focus);
    }

    private static IReadOnlyList<string> Screen(WatchFrame frame)
    {
        var console = new TestConsole().Width(80);
        console.Profile.Height = 24;
        console.Write(new Markup(string.Join('\n', WatchView.Lines(frame, 80, 24))));
        return console.Lines;
    }

    [Fact]
    public void A_host_with_more_VMs_than_fit_renders_in_80_by_24_and_counts_the_rest()
    {
        var screen = Screen(Frame(vms: 40));
        Assert.InRange(screen.Count, 20, 24);
        Assert.All(screen, line => Assert.True(line.Length <= 80, $"{line.Length} columns: '{line}'"));
        Assert.StartsWith("Host h1 65536 MB, reserve 1024, assigned ", screen[0]);
        Assert.EndsWith("17:05:09", screen[0].TrimEnd());
        Assert.StartsWith("VM             Assigned  Demand Press Status", screen[1]);
        // The hot-added VM: its long id cut, its figures, a bar with startup, hot-added and headroom cells.
        var hot = Frame(1).Vms[0].HostView;
        Assert.Matches($@"^vm-000-hot-ad… +{hot.AssignedMb} +{hot.DemandMb} +{hot.Pressure}% +{hot.Status} +█+▓+·+$", screen[2].TrimEnd());
        // The ballooned VM shows balloon cells; the short one its pressure over 100 %.
        Assert.Matches(@"^vm-001 .*█+░+·+$", screen[3].TrimEnd());
        Assert.Matches(@"^vm-002 +1024 +3000 +\d{3}% ", screen[4]);
        Assert.Contains(screen, l => l.StartsWith("… ", StringComparison.Ordinal) && l.Contains("more VM(s)"));
        int more = int.Parse(screen.Single(l => l.StartsWith("… ", StringComparison.Ordinal)).Split(' ')[1]);
        Assert.Equal(40, screen.Count(l => l.StartsWith("vm-", StringComparison.Ordinal)) + more);
        Assert.True(screen.Any(l => l.Contains("job-nightly") && l.Contains("vm-001") && l.Contains("Copy") && l.Contains(" 40%") && l.Contains("freeze 74 ms")), string.Join('\n', screen));
        Assert.StartsWith(WatchView.Legend, screen[^1]);
    }

    [Fact]
    public void One_VM_shows_its_memory_tab_bar_and_backup_in_80_by_24()
    {
        var screen = Screen(Frame(vms: 3, focus: "vm-001"));
        Assert.InRange(screen.Count, 10, 24);
        Assert.All(screen, line => Assert.True(line.Length <= 80, $"{line.Length} columns: '{line}'"));
        Assert.StartsWith("VM vm-001 on host h1: Running", screen[1]);
        Assert.True(screen.Any(l => l.Contains("Assigned memory") && l.Contains(" 860 MB")), string.Join('\n', screen));
        Assert.True(screen.Any(l => l.Contains("ballooned") && l.Contains(" 164 MB")), string.Join('\n', screen));
        Assert.True(screen.Any(l => l.Contains("job-nightly") && l.Contains(" 40%")), string.Join('\n', screen));
    }
}
