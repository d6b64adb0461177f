using BenchmarkDotNet.Attributes;
using HvOrleans.Memory;

namespace HvOrleans.Benchmarks;

/// <summary>
/// What a host grain and the simulator run each tick: the guests report new demand, then passes until
/// one changes nothing (at most 30), on one host of 10, 100 or 1,000 VMs. Demand alternates between two
/// seeded sets, so every invocation has something to follow (balloon one way, unballoon or hot-add the
/// other). Baseline: a clamp-and-scale loop over the same VMs, the floor any policy pays; the ratio is
/// what infra/bench.sh bounds in CI, with the engine's allocation (none).
/// </summary>
[MemoryDiagnoser]
public class ConvergingPassBenchmarks
{
    private const int MaxPasses = 30;
    private BalancingHost _host = null!;
    private BalancingVm[][] _records = [];
    private int[][] _demandsMb = [];
    private int _capacityMb, _turn;

    [Params(10, 100, 1000)]
    public int Vms { get; set; }

    /// <summary>Roomy: every target fits. Short: the host has 60 % of what the peak targets ask.</summary>
    [Params("roomy", "short")]
    public string Host { get; set; } = "short";

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        var configs = Enumerable.Range(0, Vms).Select(_ => new VmConfig(2048, 512, 8192, 20, random.Next(0, 10_001))).ToArray();
        _demandsMb = [.. Enumerable.Range(0, 2).Select(_ => configs.Select(_ => random.Next(200, 7000)).ToArray())];
        var booted = configs.Select((c, i) => new BalancingVm($"vm{i:D4}", c, VmMemory.Boot(c).WithDemand(_demandsMb[0][i]))).ToArray();
        long peakTargetsMb = configs.Select((c, i) => (long)VmMemory.Boot(c).WithDemand(Math.Max(_demandsMb[0][i], _demandsMb[1][i])).TargetMb(c)).Sum();
        _capacityMb = (int)(Host == "roomy" ? peakTargetsMb * 2 : Math.Max(peakTargetsMb * 6 / 10, configs.Sum(c => (long)c.StartupMb)));
        _host = BalancingHost.Of(booted, sortById: true);
        _records = [.. _demandsMb.Select(d => booted.Select((v, i) => v with { Memory = v.Memory.WithDemand(d[i]) }).ToArray())];
    }

    [Benchmark(Baseline = true)]
    public long ClampAndScaleLoop()
    {
        long sum = 0;
        foreach (ref readonly var v in _host.Vms.AsSpan()) sum += Math.Clamp(v.DemandMb * 6 / 5, v.MinimumMb, v.MaximumMb);
        return sum;
    }

    /// <summary>The engine: demands into the host's slots, passes in place.</summary>
    [Benchmark]
    public int HyperVConverge()
    {
        var demands = _demandsMb[_turn ^= 1];
        for (int i = 0; i < demands.Length; i++) _host.Vms[i].ReportDemand(demands[i]);
        return _host.Converge(HyperVPolicy.Instance, _capacityMb, MaxPasses);
    }

    /// <summary>The same decision over records, as the host grain asks for it today: a host built per call, resizes as records.</summary>
    [Benchmark]
    public int HyperVConvergeRecords() => BalancingPass.Converge(HyperVPolicy.Instance, _capacityMb, _records[_turn ^= 1], MaxPasses).Count;
}
