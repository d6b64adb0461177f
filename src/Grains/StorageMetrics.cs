using System.Diagnostics.Metrics;

namespace HvOrleans.Grains;

/// <summary>Grain-state writes, for operators and for the fleet simulator's writes-per-tick. Meter <c>HvOrleans.Storage</c>.</summary>
public static class StorageMetrics
{
    public const string MeterName = "HvOrleans.Storage";
    public const string WritesName = "hv.storage.writes";
    private static readonly Meter Meter = new(MeterName);
    internal static readonly Counter<long> Writes = Meter.CreateCounter<long>(WritesName);
}
