using HvOrleans.Simulator;

namespace HvOrleans.Tests.Simulation;

public class KFoldTests
{
    private const int Ticks = 288;

    private static PolicyResult Tried(double laggedMbTicks, double meanAssignedMb) =>
        new("predict") { VmTicks = 10, LaggedUnmetMbTicks = laggedMbTicks, AssignedMbTicks = meanAssignedMb * 10 };

    [Fact]
    public void The_choice_is_the_lowest_lagged_unmet_demand_within_the_memory_allowed()
    {
        // 1,030 MB allowed: the 900 GB·h entry holds 1,100 MB, so the 950 one at 1,020 MB wins over the 990 one.
        Assert.Equal(1, KFold.Choose([Tried(990, 1000), Tried(950, 1020), Tried(900, 1100)], 1030));
        // Nothing within it: the leanest.
        Assert.Equal(0, KFold.Choose([Tried(990, 1000), Tried(950, 1020)], 500));
    }

    [Fact]
    public async Task A_folds_choice_is_made_on_the_other_folds_alone()
    {
        var trace = DemandTrace.Synthetic("bursty", vms: 6, ticks: Ticks, seed: 5);
        var before = await KFold.RunAsync(trace, folds: 2, hosts: 2, vmsPerHost: 3, Ticks, seed: 1, GuestKernel.Current);

        // Fold 0 is series 0, 2 and 4. Series 0 changed (its demand halved) changes what fold 0 is judged on,
        // and what fold 1 is trained on — but not what fold 0 was trained on, so not fold 0's choice.
        var changed = new DemandTrace(trace.Name, trace.TickSeconds,
            [.. Enumerable.Range(0, 6).Select(v => Enumerable.Range(0, Ticks).Select(t => v == 0 ? trace.DemandMb(v, t) / 2 : trace.DemandMb(v, t)).ToArray())],
            [.. Enumerable.Range(0, 6).Select(trace.ProvisionedMb)]);
        var after = await KFold.RunAsync(changed, folds: 2, hosts: 2, vmsPerHost: 3, Ticks, seed: 1, GuestKernel.Current);

        Assert.Equal((before.Results[0].MostRises, before.Results[0].KeepFreePercent), (after.Results[0].MostRises, after.Results[0].KeepFreePercent));
        Assert.Equal((before.Results[0].TrainPeerLaggedGbH, before.Results[0].TrainPredictLaggedGbH), (after.Results[0].TrainPeerLaggedGbH, after.Results[0].TrainPredictLaggedGbH));
        Assert.NotEqual(before.Results[0].TestHyperVMeanAssignedMb, after.Results[0].TestHyperVMeanAssignedMb);   // fold 0 is judged on other demand
        Assert.Equal(before.Results[1].TestHyperVMeanAssignedMb, after.Results[1].TestHyperVMeanAssignedMb);       // fold 1 on the same
        Assert.NotEqual(before.Results[1].TrainPeerLaggedGbH, after.Results[1].TrainPeerLaggedGbH);                // but trained on other demand
    }

    [Fact]
    public async Task The_report_sums_and_spreads_what_the_folds_measured()
    {
        var trace = DemandTrace.Synthetic("diurnal", vms: 6, ticks: Ticks, seed: 2);
        var r = await KFold.RunAsync(trace, folds: 3, hosts: 2, vmsPerHost: 3, Ticks, seed: 1, GuestKernel.Legacy);
        Assert.Equal([0, 1, 2], r.Results.Select(f => f.Fold));
        Assert.All(r.Results, f => Assert.Equal((4, 2), (f.TrainVms, f.TestVms)));
        Assert.All(r.Results, f => Assert.Contains(KFold.Grid, p => p.MostRises == f.MostRises && p.KeepFreePercent == f.KeepFreePercent));
        Assert.All(r.Results, f => Assert.Contains(f.TestBestPeer, KFold.Peers.Select(p => p.Name)));
        Assert.All(r.Results, f => Assert.True(f.TestPeerLaggedGbH <= f.TestHyperVLaggedGbH));   // the best peer is at least as good as Hyper-V
        Assert.Equal(Math.Round(r.Results.Sum(f => f.TestPredictLaggedGbH), 1), r.Pooled.PredictLaggedGbH);
        Assert.Equal(Math.Round(r.Results.Sum(f => f.TestPeerLaggedGbH), 1), r.Pooled.PeerLaggedGbH);
        Assert.Equal(Math.Round(r.Results.Average(f => f.MemoryVsPeer), 3), r.MemoryVsPeer.Mean);
        Assert.Equal(r.Results.Min(f => f.LaggedVsHyperV), r.LaggedVsHyperV.Min);
    }
}
