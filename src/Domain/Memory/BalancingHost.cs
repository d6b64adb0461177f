namespace HvOrleans.Memory;

/// <summary>
/// One host's VMs as an array of <see cref="VmSlot"/>s, and what balancing them needs beside, allocated
/// once and reused pass after pass: the engine under the host grain's decisions and the simulator's.
/// A pass changes the slots in place and allocates nothing. Policies share leftovers by position, so
/// the VMs are kept in one fixed order (VmId, ordinal) whatever order a host's storage gives them in.
/// Not thread-safe: one pass at a time.
/// </summary>
public sealed class BalancingHost
{
    private readonly int[] _byWeight;            // balanced growers' order: weight descending, then position
    private readonly int[] _startAssignedMb, _startHighWaterMb, _passAssignedMb, _passHighWaterMb;
    private readonly int[] _passChanged, _changed;
    private readonly bool[] _touched;

    public BalancingHost(string[] vmIds, VmSlot[] vms)
    {
        if (vmIds.Length != vms.Length) throw new ArgumentException($"{vmIds.Length} ids for {vms.Length} VMs.", nameof(vms));
        (VmIds, Vms, Count) = (vmIds, vms, vms.Length);
        DesiredMb = new int[Count];
        Scratch = new ShareScratch(Count);
        _byWeight = new int[Count];
        (_startAssignedMb, _startHighWaterMb, _passAssignedMb, _passHighWaterMb) = (new int[Count], new int[Count], new int[Count], new int[Count]);
        (_passChanged, _changed, _touched) = (new int[Count], new int[Count], new bool[Count]);
        OrderByWeight();
    }

    /// <summary>A host over records; <paramref name="sortById"/> puts them in the pass's order (VmId, ordinal).</summary>
    public static BalancingHost Of(IReadOnlyList<BalancingVm> vms, bool sortById)
    {
        var records = sortById ? vms.OrderBy(v => v.VmId, StringComparer.Ordinal).ToArray() : vms.ToArray();
        return new(records.Select(v => v.VmId).ToArray(), records.Select(v => VmSlot.Of(v.Config, v.Memory)).ToArray());
    }

    public int Count { get; }
    public string[] VmIds { get; }

    /// <summary>
    /// The memory the host keeps for itself, which policies that reason about the host's whole memory
    /// (Proxmox aims at 80 % of it used) count as used. 0 when not given.
    /// </summary>
    public int ReserveMb { get; set; }
    public VmSlot[] Vms { get; }

    /// <summary>What the policy of the current pass wants each balanced VM to have.</summary>
    public int[] DesiredMb { get; }

    /// <summary>Room for a policy's per-pass working figures (<see cref="WeightedShare"/> and its inputs).</summary>
    public ShareScratch Scratch { get; }

    /// <summary>The VMs the last <see cref="Converge"/> changed, in the order they were first changed.</summary>
    public ReadOnlySpan<int> Changed(int count) => _changed.AsSpan(0, count);

    /// <summary>What VM <paramref name="i"/> held before the last <see cref="Converge"/>.</summary>
    public (int AssignedMb, int HighWaterMb) Before(int i) => (_startAssignedMb[i], _startHighWaterMb[i]);

    /// <summary>What the last <see cref="Converge"/> did to VM <paramref name="i"/>: MB hot-added, and MB ballooned (negative: given back).</summary>
    public (int HotAddedMb, int BalloonDeltaMb) DeltaOf(int i) =>
        (Vms[i].HighWaterMb - _startHighWaterMb[i], Vms[i].BalloonedMb - (_startHighWaterMb[i] - _startAssignedMb[i]));

    /// <summary>Call after changing a VM's weight: growers are served in weight order.</summary>
    public void OrderByWeight()
    {
        var keys = Scratch.Keys.AsSpan(0, Count);
        for (int i = 0; i < Count; i++) keys[i] = ((long)(int.MaxValue - Vms[i].Weight) << 32) | (uint)i;
        keys.Sort();
        for (int k = 0; k < Count; k++) _byWeight[k] = (int)(keys[k] & 0xFFFF_FFFF);
    }

    /// <summary>
    /// Passes until one changes nothing, at most <paramref name="maxPasses"/>. Returns how many VMs end
    /// with other memory than they started with (<see cref="Changed"/>, <see cref="Before"/>).
    /// </summary>
    public int Converge(IBalancingPolicy policy, int capacityMb, int maxPasses)
    {
        int touchedCount = 0;
        for (int i = 0; i < Count; i++)
        {
            (_startAssignedMb[i], _startHighWaterMb[i]) = (Vms[i].AssignedMb, Vms[i].HighWaterMb);
            _touched[i] = false;
        }
        for (int pass = 0; pass < maxPasses; pass++)
        {
            int changed = Pass(policy, capacityMb);
            if (changed == 0) break;
            foreach (int i in _passChanged.AsSpan(0, changed))
                if (!_touched[i]) (_touched[i], _changed[touchedCount++]) = (true, i);
        }
        int count = 0;
        foreach (int i in _changed.AsSpan(0, touchedCount))
            if (Vms[i].AssignedMb != _startAssignedMb[i] || Vms[i].HighWaterMb != _startHighWaterMb[i]) _changed[count++] = i;
        return count;
    }

    /// <summary>
    /// One pass: shrinkers first, in position order, so the host never over-commits in between; then
    /// growers by weight, every grower's demand before anyone's buffer — hot-add comes in 128 MB blocks,
    /// and one VM's block rounded up for its buffer must not take the room another needs for its demand.
    /// Returns how many VMs changed (<see cref="_passChanged"/>), shrinkers first.
    /// </summary>
    private int Pass(IBalancingPolicy policy, int capacityMb)
    {
        var vms = Vms.AsSpan(0, Count);
        policy.Desire(this, capacityMb);
        long usedMb = 0;
        for (int i = 0; i < vms.Length; i++)
        {
            if (vms[i].Running) usedMb += vms[i].AssignedMb;
            (_passAssignedMb[i], _passHighWaterMb[i]) = (vms[i].AssignedMb, vms[i].HighWaterMb);
        }
        int changed = 0;
        for (int i = 0; i < vms.Length; i++)
        {
            ref var vm = ref vms[i];
            if (!vm.IsBalanced || DesiredMb[i] >= vm.AssignedMb) continue;
            int beforeMb = vm.AssignedMb;
            vm.ResizeTo(DesiredMb[i], beforeMb);
            usedMb -= beforeMb - vm.AssignedMb;
            if (vm.AssignedMb != beforeMb) _passChanged[changed++] = i;
        }
        for (int phase = 0; phase < 2; phase++)
            foreach (int i in _byWeight)
            {
                ref var vm = ref vms[i];
                if (!vm.IsBalanced || DesiredMb[i] <= _passAssignedMb[i]) continue;
                int wantMb = phase == 0 ? Math.Min(DesiredMb[i], vm.DemandLevelMb) : DesiredMb[i];
                long freeMb = Math.Max(0, capacityMb - usedMb);
                int ceilingMb = (int)Math.Min(int.MaxValue, vm.AssignedMb + freeMb);
                int beforeMb = vm.AssignedMb;
                // A grower only grows: a demand level below what it holds asks nothing of this phase.
                vm.ResizeTo(Math.Max(beforeMb, wantMb), ceilingMb);
                usedMb += vm.AssignedMb - beforeMb;
            }
        foreach (int i in _byWeight)
            if (vms[i].IsBalanced && DesiredMb[i] > _passAssignedMb[i]
                && (vms[i].AssignedMb != _passAssignedMb[i] || vms[i].HighWaterMb != _passHighWaterMb[i]))
                _passChanged[changed++] = i;
        return changed;
    }

    /// <summary>The changes of the last <see cref="Converge"/> (its result: <paramref name="count"/>) as records.</summary>
    public IReadOnlyList<VmResize> Resizes(int count)
    {
        var resizes = new VmResize[count];
        for (int k = 0; k < count; k++)
        {
            int i = _changed[k];
            var after = Vms[i].ToMemory();
            resizes[k] = new VmResize(VmIds[i], after with { AssignedMb = _startAssignedMb[i], HighWaterMb = _startHighWaterMb[i] }, after);
        }
        return resizes;
    }

    /// <summary>What the running VMs hold.</summary>
    public long AssignedMb => BalancingPolicies.UsedMb(Vms.AsSpan(0, Count));
}
