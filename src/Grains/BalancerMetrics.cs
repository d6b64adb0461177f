using System.Diagnostics.Metrics;

namespace HvOrleans.Grains;

/// <summary>What an operator graphs about balancing. Meter name: <c>HvOrleans.Balancer</c>.</summary>
internal static class BalancerMetrics
{
    private static readonly Meter Meter = new("HvOrleans.Balancer");
    private static readonly Counter<long> Passes = Meter.CreateCounter<long>("hv.balancer.passes");
    private static readonly Counter<long> Resizes = Meter.CreateCounter<long>("hv.balancer.resizes");
    private static readonly Counter<long> HotAdded = Meter.CreateCounter<long>("hv.balancer.hot_added", "MB");
    private static readonly Counter<long> Ballooned = Meter.CreateCounter<long>("hv.balancer.ballooned", "MB");
    private static readonly Counter<long> Unballooned = Meter.CreateCounter<long>("hv.balancer.unballooned", "MB");

    public static void RecordPass(IReadOnlyList<VmResize> applied)
    {
        Passes.Add(1);
        if (applied.Count == 0) return;
        Resizes.Add(applied.Count);
        foreach (var r in applied)
        {
            if (r.HotAddedMb > 0) HotAdded.Add(r.HotAddedMb);
            if (r.BalloonDeltaMb > 0) Ballooned.Add(r.BalloonDeltaMb);
            if (r.BalloonDeltaMb < 0) Unballooned.Add(-r.BalloonDeltaMb);
        }
    }
}
