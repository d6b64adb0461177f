using BenchmarkDotNet.Attributes;
using HvOrleans.Memory;

namespace HvOrleans.Benchmarks;

/// <summary>
/// One Hyper-V balancing pass over a host's VMs — the pure code each balancer grain runs every
/// period. Baseline: a plain clamp-and-scale loop over the same VMs, the floor any policy pays.
/// </summary>
[MemoryDiagnoser]
public class BalancingPassBenchmarks
{
    private BalancingVm[] _vms = [];
    private int _capacityMb;

    [Params(100)]
    public int Vms { get; set; }

    /// <summary>Roomy: every target fits. Short: the host has 60 % of what the targets ask.</summary>
    [Params("roomy", "short")]
    public string Host { get; set; } = "roomy";

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        _vms = Enumerable.Range(0, Vms).Select(i =>
        {
            var config = new VmConfig(2048, 512, 8192, 20, random.Next(0, 10_001));
            return new BalancingVm($"vm{i}", config, VmMemory.Boot(config).WithDemand(random.Next(200, 7000)));
        }).ToArray();
        long targets = _vms.Sum(v => (long)v.Memory.TargetMb(v.Config));
        _capacityMb = (int)(Host == "roomy" ? targets * 2 : Math.Max(targets * 6 / 10, _vms.Sum(v => (long)v.Memory.AssignedMb)));
    }

    [Benchmark(Baseline = true)]
    public long ClampAndScaleLoop()
    {
        long sum = 0;
        foreach (var v in _vms) sum += Math.Clamp(v.Memory.DemandMb * 6 / 5, v.Config.MinimumMb, v.Config.MaximumMb);
        return sum;
    }

    [Benchmark]
    public int HyperVPass() => BalancingPass.Run(HyperVPolicy.Instance, _capacityMb, _vms).Count;
}
