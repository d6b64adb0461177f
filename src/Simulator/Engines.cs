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

    /// <summary>
    /// Reports every VM's demand and balances every host; returns per host the VMs that changed, by
    /// their position in the fleet's host. The lists are the engine's own, valid until the next tick.
    /// </summary>
    Task<IReadOnlyList<VmChange>[]> TickAsync(int[][] demandsMb);
}

/// <summary>A VM a tick resized: its position in its host (fleet order), and its memory before and after.</summary>
public readonly record struct VmChange(int Vm, int BeforeAssignedMb, int BeforeHighWaterMb, int AfterAssignedMb, int AfterHighWaterMb)
{
    public int HotAddedMb => AfterHighWaterMb - BeforeHighWaterMb;

    /// <summary>Positive: ballooned; negative: unballooned.</summary>
    public int BalloonDeltaMb => (AfterHighWaterMb - AfterAssignedMb) - (BeforeHighWaterMb - BeforeAssignedMb);
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

/// <summary>
/// (a) The policy code alone, no Orleans and no storage: the ceiling. Each host is a
/// <see cref="BalancingHost"/> balanced in place, hosts in parallel; a tick allocates nothing per VM.
/// </summary>
public sealed class PureEngine : ISimulationEngine
{
    private BalancingHost[] _hosts = [];
    private int[][] _slotOf = [], _vmOf = [];     // fleet position ↔ the host's (VmId-ordered) slot
    private List<VmChange>[] _changes = [];
    private int[] _capacityMb = [];
    private IBalancingPolicy _policy = HyperVPolicy.Instance;

    public string Storage => "none";
    public long GrainCalls => 0;
    public long StorageWrites => 0;

    public Task<int[][]> SetUpAsync(Fleet fleet, IBalancingPolicy policy)
    {
        _policy = policy;
        int count = fleet.Hosts.Length;
        (_hosts, _slotOf, _vmOf, _changes) = (new BalancingHost[count], new int[count][], new int[count][], new List<VmChange>[count]);
        _capacityMb = fleet.Hosts.Select(h => h.CapacityMb).ToArray();
        var assigned = new int[count][];
        for (int h = 0; h < count; h++)
        {
            var fleetHost = fleet.Hosts[h];
            var host = _hosts[h] = BalancingHost.Of(BalancingPass.BootInTurn(fleetHost.CapacityMb, [], fleet.Placements(fleetHost)), sortById: true);
            host.ReserveMb = fleetHost.ReserveMb;
            var slot = host.VmIds.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i, StringComparer.Ordinal);
            _slotOf[h] = fleetHost.Vms.Select(v => slot[v.VmId]).ToArray();
            _vmOf[h] = new int[_slotOf[h].Length];
            for (int j = 0; j < _slotOf[h].Length; j++) _vmOf[h][_slotOf[h][j]] = j;
            _changes[h] = [];
            assigned[h] = _slotOf[h].Select(i => host.Vms[i].AssignedMb).ToArray();
        }
        return Task.FromResult(assigned);
    }

    public Task<IReadOnlyList<VmChange>[]> TickAsync(int[][] demandsMb)
    {
        Hosts.ForEach(_hosts.Length, _hosts.Length > 0 ? _hosts[0].Count : 0, h => Step(h, demandsMb[h]));
        return Task.FromResult<IReadOnlyList<VmChange>[]>(_changes);
    }

    private void Step(int h, int[] demandsMb)
    {
        var (host, slotOf, vmOf, changes) = (_hosts[h], _slotOf[h], _vmOf[h], _changes[h]);
        for (int j = 0; j < demandsMb.Length; j++) host.Vms[slotOf[j]].ReportDemand(demandsMb[j]);
        changes.Clear();
        foreach (int i in host.Changed(host.Converge(_policy, _capacityMb[h], Passes.MaxPerTick)))
        {
            var (assignedMb, highWaterMb) = host.Before(i);
            changes.Add(new VmChange(vmOf[i], assignedMb, highWaterMb, host.Vms[i].AssignedMb, host.Vms[i].HighWaterMb));
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>Per-host work of a tick: in parallel when the fleet is large enough to repay it, else on this thread.</summary>
internal static class Hosts
{
    private const int ParallelFromVms = 2048;

    public static void ForEach(int hosts, int vmsPerHost, Action<int> work)
    {
        if ((long)hosts * vmsPerHost < ParallelFromVms) for (int h = 0; h < hosts; h++) work(h);
        else Parallel.For(0, hosts, work);
    }
}
