using System.Diagnostics;

namespace HvOrleans.Simulator;

/// <summary>What one policy achieved on the fleet, from the memory the engine (grains or pure code) actually assigned.</summary>
public sealed class PolicyResult(string name)
{
    public string Name { get; } = name;
    public long VmTicks { get; set; }
    public long PagingVmTicks { get; set; }
    public long PressureVmTicks { get; set; }
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

    internal void Add(in HostTotals host)
    {
        VmTicks += host.Vms;
        PagingVmTicks += host.PagingVms;
        PressureVmTicks += host.PressureVms;
        ResizedVms += host.ResizedVms;
        UnmetMbTicks += host.UnmetMb;
        LaggedUnmetMbTicks += host.LaggedUnmetMb;
        AssignedMbTicks += host.AssignedMb;
        DemandMbTicks += host.DemandMb;
        HotAddMb += host.HotAddMb;
        BalloonMb += host.BalloonMb;
        UnballoonMb += host.UnballoonMb;
    }

    public double UnmetDemandGbH(int tickSeconds) => UnmetMbTicks * tickSeconds / 3600.0 / 1024.0;
    public double LaggedUnmetDemandGbH(int tickSeconds) => LaggedUnmetMbTicks * tickSeconds / 3600.0 / 1024.0;
    public double PagingShare => VmTicks == 0 ? 0 : (double)PagingVmTicks / VmTicks;

    /// <summary>
    /// The share of VM-ticks whose new demand found the VM holding less (pressure over 100 %, Hyper-V
    /// Manager's "Warning") — until the balancer reacts. Paging share judges the same after the tick's
    /// passes; this one sees what a policy had ready, as lagged unmet demand does.
    /// </summary>
    public double PressureShare => VmTicks == 0 ? 0 : (double)PressureVmTicks / VmTicks;
    public double MeanAssignedMb => VmTicks == 0 ? 0 : AssignedMbTicks / VmTicks;
    public double MeanDemandMb => VmTicks == 0 ? 0 : DemandMbTicks / VmTicks;
    public double VmTicksPerSecond => Seconds == 0 ? 0 : VmTicks / Seconds;
}

/// <summary>One host's figures for one tick.</summary>
internal struct HostTotals
{
    public long Vms, PagingVms, PressureVms, ResizedVms, UnmetMb, LaggedUnmetMb, AssignedMb, DemandMb, HotAddMb, BalloonMb, UnballoonMb;
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
        var sampleAt = samples.Select(s => hosts.Select((h, hi) => (hi, j: Array.FindIndex(h.Vms, v => v.VmId == s.VmId))).First(x => x.j >= 0)).ToArray();
        var demands = hosts.Select(h => new int[h.Vms.Length]).ToArray();
        // Per-host sums, added up after each tick: every figure is a sum of whole MB, so the order of adding cannot change it.
        var totals = new HostTotals[hosts.Length];
        int vmsPerHost = hosts.Length == 0 ? 0 : hosts[0].Vms.Length;
        var (calls0, writes0) = (engine.GrainCalls, engine.StorageWrites);
        var clock = Stopwatch.StartNew();
        for (int t = 0; t < ticks; t++)
        {
            int tick = t;
            Hosts.ForEach(hosts.Length, vmsPerHost, h =>
            {
                var (vms, d, a) = (hosts[h].Vms, demands[h], assigned[h]);
                long laggedMb = 0, pressed = 0;
                for (int j = 0; j < vms.Length; j++)
                {
                    d[j] = fleet.DemandMb(vms[j], tick);
                    if (d[j] <= a[j]) continue;
                    laggedMb += d[j] - a[j];
                    pressed++;
                }
                (totals[h].LaggedUnmetMb, totals[h].PressureVms) = (laggedMb, pressed);
            });
            var resized = await engine.TickAsync(demands);
            Hosts.ForEach(hosts.Length, vmsPerHost, h => Judge(hosts[h], tick, resized[h], demands[h], assigned[h], highWater[h], checkInvariants, ref totals[h]));
            long fleetAssigned = 0;
            foreach (ref var host in totals.AsSpan())
            {
                result.Add(host);
                fleetAssigned += host.AssignedMb;
            }
            result.FleetAssignedMb.Add(fleetAssigned);
            result.SampleAssignedMb.Add(sampleAt.Select(x => assigned[x.hi][x.j]).ToArray());
            progress?.Invoke(policy.Name, t + 1);
        }
        result.Seconds = clock.Elapsed.TotalSeconds;
        (result.GrainCalls, result.StorageWrites) = (engine.GrainCalls - calls0, engine.StorageWrites - writes0);
        return result;
    }

    /// <summary>One host's tick: applies its changes to what its VMs hold and sums what the tick gave them.</summary>
    private static void Judge(FleetHost host, int tick, IReadOnlyList<VmChange> changes, int[] demands, int[] assigned, int[] highWater,
        bool checkInvariants, ref HostTotals totals)
    {
        totals = new HostTotals { LaggedUnmetMb = totals.LaggedUnmetMb, PressureVms = totals.PressureVms, ResizedVms = changes.Count };
        foreach (var r in changes)
        {
            if (checkInvariants) CheckVm(host.Vms[r.Vm], r, highWater[r.Vm]);
            assigned[r.Vm] = r.AfterAssignedMb;
            highWater[r.Vm] = r.AfterHighWaterMb;
            totals.HotAddMb += r.HotAddedMb;
            if (r.BalloonDeltaMb > 0) totals.BalloonMb += r.BalloonDeltaMb; else totals.UnballoonMb -= r.BalloonDeltaMb;
        }
        for (int j = 0; j < demands.Length; j++)
        {
            int d = demands[j], a = assigned[j];
            totals.DemandMb += d;
            totals.AssignedMb += a;
            if (a < d) { totals.PagingVms++; totals.UnmetMb += d - a; }
        }
        totals.Vms = demands.Length;
        if (checkInvariants && totals.AssignedMb > host.CapacityMb)
            throw new InvalidOperationException($"Tick {tick}: host {host.HostId} assigns {totals.AssignedMb} MB of {host.CapacityMb} MB.");
    }

    private static void CheckVm(FleetVm vm, VmChange r, int highWaterBeforeMb)
    {
        var c = vm.Config;
        if (r.AfterAssignedMb < c.MinimumMb || r.AfterAssignedMb > c.MaximumMb || r.AfterHighWaterMb > c.MaximumMb)
            throw new InvalidOperationException($"{vm.VmId}: assigned {r.AfterAssignedMb} MB, high-water {r.AfterHighWaterMb} MB outside [{c.MinimumMb}, {c.MaximumMb}].");
        if (r.AfterHighWaterMb < highWaterBeforeMb)
            throw new InvalidOperationException($"{vm.VmId}: the guest's total shrank from {highWaterBeforeMb - VmMemory.FirmwareMb} to {r.AfterHighWaterMb - VmMemory.FirmwareMb} MB while running.");
    }

    /// <summary>
    /// Density: the most VMs per host (same host memory, same trace) that keep the paging share under
    /// <paramref name="pagingLimit"/>, by doubling then bisection with the pure engine. A count whose
    /// Startups do not fit the host fails.
    /// </summary>
    public static async Task<int> DensityAsync(DemandTrace trace, IBalancingPolicy policy, int hosts, int hostMemoryMb,
        int ticks, int seed, double pagingLimit = 0.01, GuestKernel kernel = GuestKernel.Legacy, VmSizing sizing = VmSizing.Provisioned)
    {
        async Task<bool> Fits(int vmsPerHost)
        {
            try
            {
                var fleet = Fleet.Build(trace, hosts, vmsPerHost, hostMemoryMb, seed, kernel: kernel, sizing: sizing);
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
