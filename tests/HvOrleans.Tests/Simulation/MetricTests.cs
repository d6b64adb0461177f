using HvOrleans.Simulator;

namespace HvOrleans.Tests.Simulation;

/// <summary>
/// The simulator's metrics on three-tick traces worked out by hand. One VM provisioned 8,192 MB gets
/// Maximum 8,192, Startup 1,024, Minimum 512 (Fleet.ConfigFor); hour-long ticks make MB·ticks
/// MB·hours.
/// </summary>
public class MetricTests
{
    private static readonly VmConfig Config = Fleet.ConfigFor(8192);

    private static DemandTrace Trace(params int[] demandMb) => new("hand", tickSeconds: 3600, [demandMb], [8192]);

    private static async Task<PolicyResult> RunAsync(DemandTrace trace, IBalancingPolicy policy, int hostMemoryMb = 16384)
    {
        var fleet = Fleet.Build(trace, hosts: 1, vmsPerHost: 1, hostMemoryMb, seed: 1);
        var run = await SimulationRunner.RunAsync(fleet, 3, [policy], () => Task.FromResult<ISimulationEngine>(new PureEngine()), 1, checkInvariants: true);
        return run.Policies[0];
    }

    [Fact]
    public async Task Static_memory_pages_when_demand_passes_startup_before_and_after_the_passes_alike()
    {
        Assert.Equal((1024, 512, 8192), (Config.StartupMb, Config.MinimumMb, Config.MaximumMb));
        // Static holds Startup (1,024) throughout. Demand 500, 1,500, 900: short by 476 MB at tick 1 only,
        // both when the demand arrives (lagged, pressure) and after the passes (unmet, paging).
        var p = await RunAsync(Trace(500, 1500, 900), StaticPolicy.Instance);
        Assert.Equal(476 / 1024.0, p.UnmetDemandGbH(3600), 9);
        Assert.Equal(476 / 1024.0, p.LaggedUnmetDemandGbH(3600), 9);
        Assert.Equal((1 / 3.0, 1 / 3.0), (p.PagingShare, p.PressureShare));
        Assert.Equal((1024.0, 2900 / 3.0), (p.MeanAssignedMb, p.MeanDemandMb));
    }

    [Fact]
    public async Task A_policy_that_grows_in_the_pass_leaves_no_paging_but_the_pressure_it_met_on_arrival_counts()
    {
        // Hyper-V's policy with room to spare covers each demand within the tick: nothing is unmet after
        // the passes. What it held when 1,500 arrived is what it had set for 500 (demand plus buffer),
        // so that tick is under pressure and lagged by the difference.
        var p = await RunAsync(Trace(500, 1500, 900), HyperVPolicy.Instance);
        long heldForTick1 = p.FleetAssignedMb[0];
        Assert.InRange(heldForTick1, 600, 1024);   // 500 plus its 20 % buffer, in pages, at least Minimum
        Assert.Equal((0.0, 0.0), (p.UnmetDemandGbH(3600), p.PagingShare));
        Assert.Equal((1500 - heldForTick1) / 1024.0, p.LaggedUnmetDemandGbH(3600), 9);
        Assert.Equal(1 / 3.0, p.PressureShare);
    }

    [Fact]
    public async Task Density_is_the_most_VMs_whose_startups_fit_when_none_of_them_pages()
    {
        // Static, demand never above Startup: nothing pages at any count, so density is how many
        // Startups of 1,024 MB fit in 5,120 MB (6,144 − the 1,024 MB reserve).
        int density = await SimulationRunner.DensityAsync(Trace(500, 1000, 900), StaticPolicy.Instance, hosts: 1,
            hostMemoryMb: 6144, ticks: 3, seed: 1);
        Assert.Equal(5, density);
        // With a tick above Startup every VM pages a third of the time: no count keeps paging under 1 %.
        Assert.Equal(0, await SimulationRunner.DensityAsync(Trace(500, 1500, 900), StaticPolicy.Instance, 1, 6144, 3, 1));
    }
}
