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

public class VmSizingTests
{
    [Fact]
    public void Observed_sizing_brackets_what_the_vm_was_seen_to_use()
    {
        // Minimum ½ × mean, Startup the mean, Maximum 1.25 × peak; never above what it was provisioned.
        Assert.Equal(new VmConfig(1000, 500, 3750), Fleet.ObservedConfigFor(provisionedMb: 16384, meanMb: 1000.7, peakMb: 3000));
        Assert.Equal(new VmConfig(1000, 500, 2048), Fleet.ObservedConfigFor(provisionedMb: 2048, meanMb: 1000.7, peakMb: 3000));
        Assert.Equal(new VmConfig(512, 256, 512), Fleet.ObservedConfigFor(provisionedMb: 16384, meanMb: 10, peakMb: 20));   // the floors
    }

    [Fact]
    public void Every_vm_of_an_observed_fleet_holds_its_series_range()
    {
        var trace = DemandTrace.Synthetic("bursty", vms: 4, ticks: 100, seed: 3);
        var fleet = Fleet.Build(trace, hosts: 2, vmsPerHost: 4, hostMemoryMb: null, seed: 1, sizing: VmSizing.Observed);
        foreach (var vm in fleet.Hosts.SelectMany(h => h.Vms))
        {
            int peakMb = Enumerable.Range(0, trace.Ticks).Max(t => trace.DemandMb(vm.TraceVm, t));
            Assert.True(vm.Config.MaximumMb >= Math.Min(peakMb, trace.ProvisionedMb(vm.TraceVm)), $"{vm.VmId}: maximum {vm.Config.MaximumMb} below its peak {peakMb}");
            Assert.True(vm.Config.MinimumMb <= vm.Config.StartupMb && vm.Config.StartupMb <= vm.Config.MaximumMb);
        }
    }
}
