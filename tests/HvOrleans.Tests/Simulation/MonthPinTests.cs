using HvOrleans.Simulator;
using HvOrleans.Tests.Infrastructure;

namespace HvOrleans.Tests.Simulation;

/// <summary>
/// A month of the repository's trace, every policy, pinned to the figures the policy code gave before
/// the engine was rewritten for speed (issue 15): a faster engine must decide exactly as the old one did.
/// Two fleets: the simulator's own host sizing (12 GB hosts, short at peaks: shares and ballooning decide), and
/// 24 GB hosts (room to hot-add: growth decides).
/// The pinned figures are integer sums (MB·ticks, VM-ticks, MB), so equality is exact.
/// </summary>
public sealed class MonthPinTests
{
    private static async Task<string> MonthAsync(int? hostMemoryMb)
    {
        var trace = DemandTrace.LoadBitbrains(Repo.Trace);
        var fleet = Fleet.Build(trace, hosts: 4, vmsPerHost: 20, hostMemoryMb, seed: 1);
        var run = await SimulationRunner.RunAsync(fleet, trace.Ticks, BalancingPolicies.All,
            () => Task.FromResult<ISimulationEngine>(new PureEngine()), seed: 1, checkInvariants: true);
        return string.Join('\n', run.Policies.Select(p =>
            $"{p.Name} paging={p.PagingVmTicks} unmet={p.UnmetMbTicks} lagged={p.LaggedUnmetMbTicks} assigned={p.AssignedMbTicks} " +
            $"demand={p.DemandMbTicks} hotAdd={p.HotAddMb} resized={p.ResizedVms} balloon={p.BalloonMb} unballoon={p.UnballoonMb}"));
    }

    [Fact]
    public async Task A_month_with_the_simulators_host_sizing_decides_as_before() =>
        Assert.Equal(PinnedSized, await MonthAsync(hostMemoryMb: null));

    [Fact]
    public async Task A_month_on_roomy_hosts_decides_as_before() =>
        Assert.Equal(PinnedRoomy, await MonthAsync(hostMemoryMb: 24 * 1024));

    // Measured on 97ea9dc (before issue 15's engine), 8,639 ticks, 4 hosts × 20 VMs, seed 1; proxmox measured
    // again when it was made faithful to PVE's compute_alg1 (issue 13) — a change of policy, not of engine;
    // esxi and predict pinned when they were added, mom again when it was made faithful to balloon.rules (issue 13).
    private const string PinnedSized =
        "static paging=74888 unmet=44953200 lagged=44953200 assigned=371546112 demand=225496680 hotAdd=0 resized=0 balloon=0 unballoon=0\n" +
        "hyperv paging=4329 unmet=974210 lagged=2112851 assigned=380208840 demand=225496680 hotAdd=49542 resized=37744 balloon=2167772 unballoon=2117970\n" +
        "squeezed paging=55156 unmet=41684830 lagged=41685703 assigned=389143584 demand=225496680 hotAdd=6556 resized=163 balloon=4548 unballoon=0\n" +
        "mom paging=34354 unmet=7784539 lagged=7894970 assigned=317797908 demand=225496680 hotAdd=35826 resized=13185 balloon=563574 unballoon=521746\n" +
        "proxmox paging=91237 unmet=50369011 lagged=50369219 assigned=304568992 demand=225496680 hotAdd=256 resized=194 balloon=8316 unballoon=300\n" +
        "lean paging=1846 unmet=484211 lagged=1886595 assigned=374535734 demand=225496680 hotAdd=48418 resized=37143 balloon=2699216 unballoon=2650482\n" +
        "esxi paging=3176 unmet=860095 lagged=2320430 assigned=377050938 demand=225496680 hotAdd=40906 resized=26794 balloon=1475496 unballoon=1434932\n" +
        "predict paging=5505 unmet=1219515 lagged=1835905 assigned=387369576 demand=225496680 hotAdd=58720 resized=78226 balloon=3075018 unballoon=3017884";

    private const string PinnedRoomy =
        "static paging=74888 unmet=44953200 lagged=44953200 assigned=371546112 demand=225496680 hotAdd=0 resized=0 balloon=0 unballoon=0\n" +
        "hyperv paging=0 unmet=0 lagged=1289142 assigned=430805056 demand=225496680 hotAdd=117248 resized=21967 balloon=2721472 unballoon=2610042\n" +
        "squeezed paging=34512 unmet=24783656 lagged=24785890 assigned=813177160 demand=225496680 hotAdd=53648 resized=84 balloon=2536 unballoon=0\n" +
        "mom paging=0 unmet=0 lagged=170874 assigned=647878794 demand=225496680 hotAdd=130880 resized=658077 balloon=15519146 unballoon=15419588\n" +
        "proxmox paging=15399 unmet=7628229 lagged=7632933 assigned=649371912 demand=225496680 hotAdd=35648 resized=158 balloon=4134 unballoon=0\n" +
        "lean paging=0 unmet=0 lagged=1433323 assigned=407903092 demand=225496680 hotAdd=98304 resized=23783 balloon=2832728 unballoon=2738802\n" +
        "esxi paging=3 unmet=5471 lagged=90792 assigned=776309566 demand=225496680 hotAdd=93056 resized=449 balloon=55472 unballoon=10492\n" +
        "predict paging=0 unmet=0 lagged=75127 assigned=759314100 demand=225496680 hotAdd=136574 resized=214929 balloon=24995304 unballoon=24903650";
}
