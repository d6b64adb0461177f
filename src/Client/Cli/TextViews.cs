using System.Text;

namespace HvOrleans.Client.Cli;

/// <summary>Plain-text views for an operator at a terminal.</summary>
public static class TextViews
{
    /// <summary>Hyper-V Manager's Memory tab beside the guest's <c>free -m</c>.</summary>
    public static string Vm(VmJson v)
    {
        var left = new[]
        {
            "Hyper-V Manager — Memory",
            $"  Startup memory   {v.StartupMb,8} MB",
            $"  Minimum memory   {v.MinimumMb,8} MB",
            $"  Maximum memory   {v.MaximumMb,8} MB",
            $"  Memory buffer    {v.BufferPercent,8} %",
            $"  Memory weight    {v.Weight,8}",
            $"  Assigned memory  {v.AssignedMb,8} MB",
            $"  Memory demand    {v.DemandMb,8} MB",
            $"  Memory pressure  {v.Pressure,8} %",
            $"  Memory status    {v.Status,8}",
        };
        var right = new[]
        {
            v.Driver == "qemu" ? "Guest — its own figures (MB)" : "Guest — free -m",
            "        total    used    free  buff/cache",
            $"  Mem: {v.Guest.TotalMb,6}  {v.Guest.UsedMb,6}  {v.Guest.FreeMb,6}  {v.Guest.BuffCacheMb,10}",
            "",
            $"  hot-added  {v.HotAddedMb,6} MB",
            $"  ballooned  {v.BalloonedMb,6} MB",
        };
        var text = new StringBuilder($"VM {v.VmId} on host {v.HostId}: {v.State}");
        if (v.Real is { } real)
            text.Append($" — QEMU pid {real.Pid}, up {real.UptimeSeconds:0} s, guest {real.GuestState.ToLowerInvariant()}; devices: balloon {real.DeviceBalloonedMb} MB, virtio-mem {real.DevicePluggedMb} MB");
        else if (v.Driver == "qemu" && v.State == "Running")
            text.Append(" — no report from its guest yet");
        if (v.CrashReason is { } why) text.Append($" — {why}");
        text.Append('\n');
        for (int i = 0; i < Math.Max(left.Length, right.Length); i++)
        {
            string l = i < left.Length ? left[i] : "";
            string r = i < right.Length ? right[i] : "";
            text.Append(l.PadRight(40)).Append(r).Append('\n');
        }
        return text.ToString().TrimEnd() + "\n";
    }

    public static string Host(HostInfo h) =>
        $"Host {h.HostId}: memory {h.MemoryMb} MB, reserve {h.ReserveMb} MB, assigned {h.AssignedMb} MB, available {h.AvailableMb} MB\n" +
        (h.Driver == HostDriver.Qemu
            ? $"  driver: qemu, accel: {h.Accel}, agent: {(h.AgentConnected ? "connected" : "not connected")}, policy: {h.Policy}\n"
            : $"  driver: model, policy: {h.Policy}\n") +
        string.Concat(h.AssignedMbByVm.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"  {e.Key,-24} {e.Value,8} MB\n"));

    public static string Balance(BalancingReport r)
    {
        var text = new StringBuilder(r.Resizes.Count == 0
            ? $"Host {r.HostId}: already balanced; assigned {r.AssignedMb} of {r.CapacityMb} MB\n"
            : $"Host {r.HostId}: {r.Resizes.Count} VM(s) resized; assigned {r.AssignedMb} of {r.CapacityMb} MB\n");
        foreach (var x in r.Resizes)
        {
            var (hotAdd, balloon) = (x.HotAddedMb, x.BalloonDeltaMb);
            var parts = new List<string>();
            if (balloon < 0) parts.Add($"unballooned {-balloon} MB");
            if (hotAdd > 0) parts.Add($"hot-added {hotAdd} MB");
            if (balloon > 0) parts.Add($"ballooned {balloon} MB");
            string how = string.Join(", ", parts);
            text.Append($"  {x.VmId,-24} {x.Before.AssignedMb,8} -> {x.After.AssignedMb,8} MB  ({how})\n");
        }
        return text.ToString();
    }
}
