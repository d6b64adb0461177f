using System.Text;
using Spectre.Console;

namespace HvOrleans.Client.Cli;

/// <summary>What one refresh of <c>hv watch</c> read: a host, its VMs and the backups running on them.</summary>
public sealed record WatchFrame(HostInfo Host, IReadOnlyList<VmInfo> Vms, IReadOnlyList<BackupJobInfo> Backups, DateTimeOffset At, string? FocusVmId = null);

/// <summary>
/// <c>hv watch</c>'s screen, a pure function of a frame and the terminal's size: every line fits the
/// width, and the whole fits the height (VMs beyond it are counted, not drawn), so an 80×24 terminal
/// never scrolls.
/// </summary>
public static class WatchView
{
    public const string Legend = "█ startup  ▓ hot-added  ░ ballooned  · up to Maximum";

    public static IReadOnlyList<string> Lines(WatchFrame frame, int width, int height)
    {
        var lines = new List<string>();
        var h = frame.Host;
        lines.Add(Fit($"[bold]Host {Esc(h.HostId)}[/] {h.MemoryMb} MB, reserve {h.ReserveMb}, assigned {h.AssignedMb}, available {h.AvailableMb} MB", width - 9)
                  + $" [grey]{frame.At:HH:mm:ss}[/]");
        if (frame.FocusVmId is { } focus)
            return VmLines(frame, frame.Vms.Single(v => v.Snapshot.VmId == focus), width, height, lines);

        int barWidth = Math.Max(8, width - 50);
        lines.Add($"[bold]{"VM",-14} {"Assigned",8} {"Demand",7} {"Press",5} {"Status",-8}[/] {"Memory (0..Maximum)".PadRight(barWidth)[..barWidth]}");
        var backupLines = BackupLines(frame.Backups, width);
        int room = height - lines.Count - 1 - (backupLines.Count > 0 ? backupLines.Count + 1 : 0);
        var shown = frame.Vms.Count <= room ? frame.Vms : frame.Vms.Take(Math.Max(0, room - 1)).ToList();
        foreach (var vm in shown)
        {
            var v = vm.HostView;
            lines.Add($"{Esc(Cut(vm.Snapshot.VmId, 14).PadRight(14))} {v.AssignedMb,8} {v.DemandMb,7} {Pressure(v.Pressure),5} {Status(vm),-8} {Bar(vm, barWidth)}");
        }
        if (shown.Count < frame.Vms.Count) lines.Add($"[grey]… {frame.Vms.Count - shown.Count} more VM(s): make the terminal taller, or hv watch vm <vm>[/]");
        if (backupLines.Count > 0)
        {
            lines.Add("[bold]Backups[/]");
            lines.AddRange(backupLines);
        }
        lines.Add($"[grey]{Fit(Legend + "   Ctrl+C quits", width)}[/]");
        return lines.Take(height).ToList();
    }

    /// <summary>One VM: its Memory tab beside the guest's figures, its bar, its backups.</summary>
    private static IReadOnlyList<string> VmLines(WatchFrame frame, VmInfo vm, int width, int height, List<string> lines)
    {
        foreach (var line in TextViews.Vm(VmJson.Of(vm)).TrimEnd().Split('\n'))
            lines.Add(Esc(Cut(line, width)));
        lines.Add("");
        lines.Add(Bar(vm, width - 2));
        var backups = BackupLines(frame.Backups, width);
        if (backups.Count > 0)
        {
            lines.Add("[bold]Backups[/]");
            lines.AddRange(backups);
        }
        lines.Add($"[grey]{Fit(Legend + "   Ctrl+C quits", width)}[/]");
        return lines.Take(height).ToList();
    }

    private static List<string> BackupLines(IReadOnlyList<BackupJobInfo> jobs, int width)
    {
        var lines = new List<string>();
        foreach (var job in jobs)
        foreach (var v in job.Vms)
        {
            double share = v.BytesTotal == 0 ? 0 : (double)v.BytesCopied / v.BytesTotal;
            const int barWidth = 16;
            int filled = (int)Math.Round(barWidth * share);
            string text = $"  {Cut(job.JobId, 18),-18} {Cut(v.VmId, 12),-12} {BackupSteps.InProgress(v.Step),-8} ";
            lines.Add(Esc(text) + $"[green]{new string('#', filled)}[/]{new string('.', barWidth - filled)} {share * 100,3:0}%"
                      + (v.FreezeWindowMs is { } w && width - text.Length - barWidth - 5 >= 14 ? $" freeze {w:F0} ms" : ""));
        }
        return lines;
    }

    /// <summary>
    /// The VM's memory over [0, Maximum]: the guest's total is Startup plus what was hot-added; of it,
    /// the balloon holds some back; Assigned is the rest. Each cell is one share of Maximum.
    /// </summary>
    public static string Bar(VmInfo vm, int width)
    {
        var (config, memory) = (vm.Snapshot.Config, vm.Snapshot.Memory);
        if (!memory.Running) return $"[grey]{new string('·', width)}[/]";
        double cell = (double)config.MaximumMb / width;
        int total = Cells(config.StartupMb + memory.HotAddedMb(config), cell, width);
        int startup = Math.Min(total, Cells(config.StartupMb, cell, width));
        int ballooned = Math.Min(total, Cells(memory.BalloonedMb, cell, width));
        int assigned = total - ballooned;
        int assignedStartup = Math.Min(startup, assigned);
        var bar = new StringBuilder();
        bar.Append("[green]").Append('█', assignedStartup).Append("[/]");
        bar.Append("[cyan]").Append('▓', assigned - assignedStartup).Append("[/]");
        bar.Append("[yellow]").Append('░', ballooned).Append("[/]");
        bar.Append("[grey]").Append('·', width - total).Append("[/]");
        return bar.ToString();
    }

    private static int Cells(long mb, double cell, int width) => (int)Math.Clamp(Math.Round(mb / cell), 0, width);

    private static string Pressure(int pressure) => pressure > 100 ? $"[red]{pressure,4}%[/]" : $"{pressure,4}%";

    private static string Status(VmInfo vm) => vm.Snapshot.Memory.Running ? Esc(vm.HostView.Status.ToString()) : vm.State;

    private static string Cut(string text, int width) => text.Length <= width ? text : text[..Math.Max(0, width - 1)] + "…";

    private static string Fit(string markup, int width) => Markup.Remove(markup).Length <= width ? markup : Esc(Cut(Markup.Remove(markup), width));

    private static string Esc(string text) => Markup.Escape(text);
}
