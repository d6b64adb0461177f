namespace HvOrleans.Simulator;

/// <summary>Runs a fleet's balancing, tick by tick, in one of three ways that share the same policy code.</summary>
public interface ISimulationEngine : IAsyncDisposable
{
    string Storage { get; }
    long GrainCalls { get; }
    long StorageWrites { get; }

    /// <summary>
    /// Creates and boots the fleet's VMs, one after another on each host; returns what each then
    /// holds (per host, in fleet order): a boot may have ballooned the VMs started before it.
    /// </summary>
    Task<int[][]> SetUpAsync(Fleet fleet, IBalancingPolicy policy);

    /// <summary>Reports every VM's demand and balances every host; returns per host the VMs that changed.</summary>
    Task<IReadOnlyList<VmResize>[]> TickAsync(int[][] demandsMb);
}

public static class Passes
{
    /// <summary>
    /// Passes a policy may run within one tick, until one changes nothing: a tick of a 5-minute trace
    /// holds many of a policy's periods (Hyper-V 1 s, MoM and Proxmox 10 s), so step-limited policies
    /// are not judged on a single step.
    /// </summary>
    public const int MaxPerTick = 30;
}

/// <summary>(a) The policy code alone, no Orleans and no storage: the ceiling. Hosts in parallel.</summary>
public sealed class PureEngine : ISimulationEngine
{
    private BalancingVm[][] _vms = [];
    private int[] _capacityMb = [];
    private IBalancingPolicy _policy = HyperVPolicy.Instance;

    public string Storage => "none";
    public long GrainCalls => 0;
    public long StorageWrites => 0;

    public Task<int[][]> SetUpAsync(Fleet fleet, IBalancingPolicy policy)
    {
        _policy = policy;
        _capacityMb = fleet.Hosts.Select(h => h.CapacityMb).ToArray();
        _vms = fleet.Hosts.Select(h => BalancingPass.BootInTurn(h.CapacityMb, [], fleet.Placements(h)).ToArray()).ToArray();
        return Task.FromResult(_vms.Select(h => h.Select(v => v.Memory.AssignedMb).ToArray()).ToArray());
    }

    public Task<IReadOnlyList<VmResize>[]> TickAsync(int[][] demandsMb)
    {
        var results = new IReadOnlyList<VmResize>[_vms.Length];
        Parallel.For(0, _vms.Length, h => results[h] = Step(h, demandsMb[h]));
        return Task.FromResult(results);
    }

    private IReadOnlyList<VmResize> Step(int h, int[] demandsMb)
    {
        var vms = _vms[h];
        for (int j = 0; j < vms.Length; j++) vms[j] = vms[j] with { Memory = vms[j].Memory.WithDemand(demandsMb[j]) };
        var resizes = BalancingPass.Converge(_policy, _capacityMb[h], vms, Passes.MaxPerTick);
        var after = resizes.ToDictionary(r => r.VmId, r => r.After);
        for (int j = 0; j < vms.Length; j++)
            if (after.TryGetValue(vms[j].VmId, out var m)) vms[j] = vms[j] with { Memory = m };
        return resizes;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
