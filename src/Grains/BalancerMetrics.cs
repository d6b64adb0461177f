using System.Diagnostics.Metrics;

namespace HvOrleans.Grains;

/// <summary>What an operator graphs about balancing. Meter name: <c>HvOrleans.Balancer</c>.</summary>
internal static class BalancerMetrics
{
    private static readonly Meter Meter = new("HvOrleans.Balancer");
    private static readonly Counter<long> Passes = Meter.CreateCounter<long>("hv.balancer.passes");
    private static readonly Counter<long> Resizes = Meter.CreateCounter<long>("hv.balancer.resizes");
    private static readonly Counter<long> HotAdded = Meter.CreateCounter<long>("hv.balancer.hot_added", "MBy");
    private static readonly Counter<long> Ballooned = Meter.CreateCounter<long>("hv.balancer.ballooned", "MBy");
    private static readonly Counter<long> Unballooned = Meter.CreateCounter<long>("hv.balancer.unballooned", "MBy");
    private static readonly Histogram<double> PassDuration = Meter.CreateHistogram<double>("hv.balancer.pass.duration", "ms",
        "The balancing decision of one call (its converging passes), without the write that may follow");

    /// <summary>One call's passes: the <paramref name="changed"/> VMs <paramref name="engine"/>'s last converge resized.</summary>
    public static void RecordPass(BalancingHost engine, int changed, TimeSpan decided)
    {
        Passes.Add(1);
        PassDuration.Record(decided.TotalMilliseconds);
        if (changed == 0) return;
        Resizes.Add(changed);
        foreach (int i in engine.Changed(changed))
        {
            var (hotAddedMb, balloonDeltaMb) = engine.DeltaOf(i);
            if (hotAddedMb > 0) HotAdded.Add(hotAddedMb);
            if (balloonDeltaMb > 0) Ballooned.Add(balloonDeltaMb);
            if (balloonDeltaMb < 0) Unballooned.Add(-balloonDeltaMb);
        }
    }
}
