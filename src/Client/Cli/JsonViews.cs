using System.Text.Json;
using System.Text.Json.Serialization;

namespace HvOrleans.Client.Cli;

/// <summary>The <c>--json</c> shapes: camelCase, sizes in MB. Scripts depend on these names.</summary>
public static class JsonViews
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public sealed record GuestJson(int TotalMb, int UsedMb, int FreeMb, int BuffCacheMb);

    public sealed record VmJson(
        string VmId, string HostId, int StartupMb, int MinimumMb, int MaximumMb, int BufferPercent, int Weight,
        string State, int AssignedMb, int DemandMb, int Pressure, string Status, int HotAddedMb, int BalloonedMb,
        GuestJson Guest);

    public sealed record HostJson(string HostId, int MemoryMb, int ReserveMb, long AssignedMb, long AvailableMb, IReadOnlyList<string> Vms);

    public sealed record ResizeJson(string VmId, int BeforeMb, int AfterMb, int HotAddedMb, int BalloonedMb);

    public sealed record BalanceJson(string HostId, int CapacityMb, long AssignedMb, IReadOnlyList<ResizeJson> Resizes);

    public static VmJson Of(VmInfo info)
    {
        var (s, h, g) = (info.Snapshot, info.HostView, info.GuestView);
        return new(s.VmId, s.HostId, s.Config.StartupMb, s.Config.MinimumMb, s.Config.MaximumMb, s.Config.BufferPercent,
            s.Config.Weight, s.Memory.Running ? "Running" : "Off", h.AssignedMb, h.DemandMb, h.Pressure, h.Status.ToString(),
            s.Memory.HotAddedMb(s.Config), s.Memory.Running ? s.Memory.BalloonedMb : 0,
            new(g.TotalMb, g.UsedMb, g.FreeMb, g.BuffCacheMb));
    }

    public static HostJson Of(HostInfo h) =>
        new(h.HostId, h.MemoryMb, h.ReserveMb, h.AssignedMb, h.AvailableMb, h.AssignedMbByVm.Keys.Order(StringComparer.Ordinal).ToList());

    public static BalanceJson Of(BalancingReport r) => new(r.HostId, r.CapacityMb, r.AssignedMb,
        r.Resizes.Select(x => new ResizeJson(x.VmId, x.Before.AssignedMb, x.After.AssignedMb,
            x.HotAddedMb, x.BalloonDeltaMb)).ToList());

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);
}
