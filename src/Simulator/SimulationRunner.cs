using System.Diagnostics;

namespace HvOrleans.Simulator;

/// <summary>What one policy achieved on the fleet, from the memory the engine (grains or pure code) actually assigned.</summary>
public sealed class PolicyResult(string name)
{
    public string Name { get; } = name;
    public long VmTicks { get; set; }
    public long PagingVmTicks { get; set; }
    public double UnmetMbTicks { get; set; }
    public double LaggedUnmetMbTicks { get; set; }
    public double AssignedMbTicks { get; set; }
    public double DemandMbTicks { get; set; }
    public long HotAddMb { get; set; }
    public long ResizedVms { get; set; }
    public long BalloonMb { get; set; }
    public long UnballoonMb { get; set; }
    public double Seconds { get; set; }
    public long GrainCalls { get; set; }
    public long StorageWrites { get; set; }
    public int Ticks { get; set; }
    public int? DensityVmsPerHost { get; set; }
    public List<long> FleetAssignedMb { get; } = [];
    public List<int[]> SampleAssignedMb { get; } = [];

    public double UnmetDemandGbH(int tickSeconds) => UnmetMbTicks * tickSeconds / 3600.0 / 1024.0;
    public double LaggedUnmetDemandGbH(int tickSeconds) => LaggedUnmetMbTicks * tickSeconds / 3600.0 / 1024.0;
    public double PagingShare => VmTicks == 0 ? 0 : (double)PagingVmTicks / VmTicks;
    public double MeanAssignedMb => VmTicks == 0 ? 0 : AssignedMbTicks / VmTicks;
    public double MeanDemandMb => VmTicks == 0 ? 0 : DemandMbTicks / VmTicks;
    public double VmTicksPerSecond => Seconds == 0 ? 0 : VmTicks / Seconds;
}

public sealed record SimulationResult(Fleet Fleet, int Ticks, string Storage, int Seed, IReadOnlyList<PolicyResult> Policies,
    IReadOnlyList<long> FleetDemandMb, IReadOnlyList<int[]> SampleDemandMb, IReadOnlyList<FleetVm> SampleVms);

/// <summary>
/// Drives a fleet through virtual time, one tick per trace sample: every guest reports its demand,
/// every host balances (passes until one changes nothing, at most <see cref="Passes.MaxPerTick"/>),
/// and the tick is judged on what the VMs then hold. A tick is a 5-minute sample and Hyper-V reacts
/// within a second, so that is what a guest lives with. The memory a VM held when its new demand
/// arrived (before any pass) is judged too, as "lagged" unmet demand: what a policy had ready.
/// </summary>
public static class SimulationRunner
{
    public static async Task<SimulationResult> RunAsync(Fleet fleet, int ticks, IReadOnlyList<IBalancingPolicy> policies,
        Func<Task<ISimulationEngine>> newEngine, int seed, bool checkInvariants, Action<string, int>? progress = null)
    {
        var samples = fleet.Hosts.SelectMany(h => h.Vms).Take(3).ToList();
        var fleetDemand = new List<long>();
        var sampleDemand = new List<int[]>();
        for (int t = 0; t < ticks; t++)
        {
            fleetDemand.Add(fleet.Hosts.Sum(h => h.Vms.Sum(v => (long)fleet.DemandMb(v, t))));
            sampleDemand.Add(samples.Select(v => fleet.DemandMb(v, t)).ToArray());
        }
        var results = new List<PolicyResult>();
        string storage = "none";
        foreach (var policy in policies)
        {
            await using var engine = await newEngine();
            storage = engine.Storage;
            results.Add(await RunPolicyAsync(fleet, ticks, policy, engine, samples, checkInvariants, progress));
        }
        return new SimulationResult(fleet, ticks, storage, seed, results, fleetDemand, sampleDemand, samples);
    }

    private static async Task<PolicyResult> RunPolicyAsync(Fleet fleet, int ticks, IBalancingPolicy policy, ISimulationEngine engine,
        IReadOnlyList<FleetVm> samples, bool checkInvariants, Action<string, int>? progress)
    {
        var result = new PolicyResult(policy.Name) { Ticks = ticks };
        // What each VM holds once all have booted: a boot may have ballooned those started before it.
        var assigned = await engine.SetUpAsync(fleet, policy);
        var hosts = fleet.Hosts;
        var highWater = hosts.Select(h => h.Vms.Select(v => v.Config.StartupMb).ToArray()).ToArray();
        var index = hosts.Select(h => h.Vms.Select((v, j) => (v.VmId, j)).ToDictionary(x => x.VmId, x => x.j)).ToArray();
        var sampleAt = samples.Select(s => hosts.Select((h, hi) => (hi, j: Array.FindIndex(h.Vms, v => v.VmId == s.VmId))).First(x => x.j >= 0)).ToArray();
        var demands = hosts.Select(h => new int[h.Vms.Length]).ToArray();
        var (calls0, writes0) = (engine.GrainCalls, engine.StorageWrites);
        var clock = Stopwatch.StartNew();
        for (int t = 0; t < ticks; t++)
        {
            for (int h = 0; h < hosts.Length; h++)
            for (int j = 0; j < hosts[h].Vms.Length; j++)
            {
                int d = demands[h][j] = fleet.DemandMb(hosts[h].Vms[j], t);
                result.LaggedUnmetMbTicks += Math.Max(0, d - assigned[h][j]);
            }
            var resized = await engine.TickAsync(demands);
            long fleetAssigned = 0;
            for (int h = 0; h < hosts.Length; h++)
            {
                result.ResizedVms += resized[h].Count;
                foreach (var r in resized[h])
                {
                    int j = index[h][r.VmId];
                    if (checkInvariants) CheckVm(hosts[h].Vms[j], r, highWater[h][j]);
                    assigned[h][j] = r.After.AssignedMb;
                    highWater[h][j] = r.After.HighWaterMb;
                    result.HotAddMb += r.HotAddedMb;
                    if (r.BalloonDeltaMb > 0) result.BalloonMb += r.BalloonDeltaMb; else result.UnballoonMb -= r.BalloonDeltaMb;
                }
                if (checkInvariants && assigned[h].Sum(a => (long)a) > hosts[h].CapacityMb)
                    throw new InvalidOperationException($"Tick {t}: host {hosts[h].HostId} assigns {assigned[h].Sum(a => (long)a)} MB of {hosts[h].CapacityMb} MB.");
                for (int j = 0; j < hosts[h].Vms.Length; j++)
                {
                    int d = demands[h][j], a = assigned[h][j];
                    result.VmTicks++;
                    result.DemandMbTicks += d;
                    result.AssignedMbTicks += a;
                    fleetAssigned += a;
                    if (a < d) { result.PagingVmTicks++; result.UnmetMbTicks += d - a; }
                }
            }
            result.FleetAssignedMb.Add(fleetAssigned);
            result.SampleAssignedMb.Add(sampleAt.Select(x => assigned[x.hi][x.j]).ToArray());
            progress?.Invoke(policy.Name, t + 1);
        }
        result.Seconds = clock.Elapsed.TotalSeconds;
        (result.GrainCalls, result.StorageWrites) = (engine.GrainCalls - calls0, engine.StorageWrites - writes0);
        return result;
    }

    private static void CheckVm(FleetVm vm, VmResize r, int highWaterBeforeMb)
    {
        var (c, m) = (vm.Config, r.After);
        if (m.AssignedMb < c.MinimumMb || m.AssignedMb > c.MaximumMb || m.HighWaterMb > c.MaximumMb)
            throw new InvalidOperationException($"{vm.VmId}: assigned {m.AssignedMb} MB, high-water {m.HighWaterMb} MB outside [{c.MinimumMb}, {c.MaximumMb}].");
        if (m.HighWaterMb < highWaterBeforeMb)
            throw new InvalidOperationException($"{vm.VmId}: the guest's total shrank from {highWaterBeforeMb - VmMemory.FirmwareMb} to {m.GuestTotalMb} MB while running.");
    }

    /// <summary>
    /// Density: the most VMs per host (same host memory, same trace) that keep the paging share under
    /// <paramref name="pagingLimit"/>, by doubling then bisection with the pure engine. A count whose
    /// Startups do not fit the host fails.
    /// </summary>
    public static async Task<int> DensityAsync(DemandTrace trace, IBalancingPolicy policy, int hosts, int hostMemoryMb,
        int ticks, int seed, double pagingLimit = 0.01)
    {
        async Task<bool> Fits(int vmsPerHost)
        {
            try
            {
                var fleet = Fleet.Build(trace, hosts, vmsPerHost, hostMemoryMb, seed);
                var run = await RunAsync(fleet, ticks, [policy], () => Task.FromResult<ISimulationEngine>(new PureEngine()), seed, false);
                return run.Policies[0].PagingShare < pagingLimit;
            }
            catch (HvRuleException e) when (e.Rule == "host-capacity")
            {
                return false; // the VMs cannot all boot
            }
        }
        int good = 0, bad = 1;
        while (await Fits(bad)) { good = bad; bad *= 2; if (bad > 4096) return good; }
        while (bad - good > 1)
        {
            int mid = (good + bad) / 2;
            if (await Fits(mid)) good = mid; else bad = mid;
        }
        return good;
    }
}
