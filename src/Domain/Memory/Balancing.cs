namespace HvOrleans.Memory;

/// <summary>One VM as a balancing pass sees it.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.BalancingVm")]
public sealed record class BalancingVm(
    [property: Id(0)] string VmId,
    [property: Id(1)] VmConfig Config,
    [property: Id(2)] VmMemory Memory)
{
    /// <summary>Only a running guest that has reported its demand is balanced; a silent one keeps what it has.</summary>
    public bool IsBalanced => Memory.Running && Memory.DemandReported;
}

/// <summary>A VM's memory before and after a pass.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmResize")]
public sealed record class VmResize(
    [property: Id(0)] string VmId,
    [property: Id(1)] VmMemory Before,
    [property: Id(2)] VmMemory After)
{
    public int DeltaMb => After.AssignedMb - Before.AssignedMb;
    public int HotAddedMb => After.HighWaterMb - Before.HighWaterMb;
    /// <summary>Positive: ballooned; negative: unballooned.</summary>
    public int BalloonDeltaMb => After.BalloonedMb - Before.BalloonedMb;
}

/// <summary>Decides how much memory each balanced VM of one host should have.</summary>
public interface IBalancingPolicy
{
    string Name { get; }

    /// <summary>
    /// The Assigned each balanced VM should move toward. <paramref name="capacityMb"/> is what the
    /// host can give all its VMs (physical − reserve); unbalanced VMs keep their Assigned.
    /// </summary>
    IReadOnlyDictionary<string, int> DesiredAssignedMb(int capacityMb, IReadOnlyList<BalancingVm> vms);
}

/// <summary>
/// Turns a policy's wishes into what the VMs really get: shrinks first (so the host never
/// over-commits in between), then grows, highest weight first, each capped by what is free.
/// </summary>
public static class BalancingPass
{
    /// <summary>
    /// Passes until one changes nothing, at most <paramref name="maxPasses"/>: a step-limited policy
    /// (MoM, Proxmox) needs several of its periods to follow a change. One resize per VM, first
    /// Before to last After.
    /// </summary>
    public static IReadOnlyList<VmResize> Converge(IBalancingPolicy policy, int capacityMb, IReadOnlyList<BalancingVm> vms, int maxPasses)
    {
        var current = vms.ToDictionary(v => v.VmId, StringComparer.Ordinal);
        var before = new Dictionary<string, VmMemory>(StringComparer.Ordinal);
        for (int pass = 0; pass < maxPasses; pass++)
        {
            var resizes = Run(policy, capacityMb, current.Values.ToList());
            if (resizes.Count == 0) break;
            foreach (var r in resizes)
            {
                before.TryAdd(r.VmId, r.Before);
                current[r.VmId] = current[r.VmId] with { Memory = r.After };
            }
        }
        return before.Where(b => b.Value != current[b.Key].Memory)
            .Select(b => new VmResize(b.Key, b.Value, current[b.Key].Memory)).ToList();
    }

    public static IReadOnlyList<VmResize> Run(IBalancingPolicy policy, int capacityMb, IReadOnlyList<BalancingVm> vms)
    {
        // Policies share leftovers by position: fix the order so a host's storage order cannot change a decision.
        vms = vms.OrderBy(v => v.VmId, StringComparer.Ordinal).ToList();
        var desired = policy.DesiredAssignedMb(capacityMb, vms);
        long usedMb = vms.Where(v => v.Memory.Running).Sum(v => (long)v.Memory.AssignedMb);
        var resizes = new List<VmResize>();
        foreach (var vm in vms.Where(v => v.IsBalanced && desired.TryGetValue(v.VmId, out var d) && d < v.Memory.AssignedMb))
        {
            var after = vm.Memory.ResizeTo(vm.Config, desired[vm.VmId], vm.Memory.AssignedMb);
            usedMb -= vm.Memory.AssignedMb - after.AssignedMb;
            if (after != vm.Memory) resizes.Add(new(vm.VmId, vm.Memory, after));
        }
        var growers = vms
            .Where(v => v.IsBalanced && desired.TryGetValue(v.VmId, out var d) && d > v.Memory.AssignedMb)
            .OrderByDescending(v => v.Config.Weight).ThenBy(v => v.VmId, StringComparer.Ordinal).ToList();
        // Every grower's demand before anyone's buffer: hot-add comes in 128 MB blocks, and one VM's
        // block rounded up for its buffer must not take the room another needs for its demand.
        var grown = growers.ToDictionary(v => v.VmId, v => v.Memory, StringComparer.Ordinal);
        foreach (var phase in new Func<BalancingVm, int>[] { v => Math.Min(desired[v.VmId], v.Memory.DemandLevelMb(v.Config)), v => desired[v.VmId] })
            foreach (var vm in growers)
            {
                var memory = grown[vm.VmId];
                long freeMb = Math.Max(0, capacityMb - usedMb);
                int ceilingMb = (int)Math.Min(int.MaxValue, memory.AssignedMb + freeMb);
                // A grower only grows: a demand level below what it holds asks nothing of this phase.
                var after = memory.ResizeTo(vm.Config, Math.Max(memory.AssignedMb, phase(vm)), ceilingMb);
                usedMb += after.AssignedMb - memory.AssignedMb;
                grown[vm.VmId] = after;
            }
        resizes.AddRange(growers.Where(v => grown[v.VmId] != v.Memory).Select(v => new VmResize(v.VmId, v.Memory, grown[v.VmId])));
        return resizes;
    }

    /// <summary>
    /// Boots VMs one after another, as a host starts them: each start may balloon the VMs already
    /// running (whose guests have reported) toward their floors. Each new guest reports its first
    /// demand right after boot. Refused whole, naming the VM, if one cannot be made room for.
    /// </summary>
    public static List<BalancingVm> BootInTurn(int capacityMb, IReadOnlyList<BalancingVm> running, IReadOnlyList<VmPlacement> boots)
    {
        var vms = running.ToList();
        long usedMb = vms.Where(v => v.Memory.Running).Sum(v => (long)v.Memory.AssignedMb);
        foreach (var boot in boots)
        {
            var room = MakeRoom(capacityMb - usedMb, boot.Config.StartupMb, vms) ?? throw new HvRuleException("host-capacity",
                $"Cannot boot VM {boot.VmId}: it needs StartupMb {boot.Config.StartupMb} and the host's {vms.Count} running VMs cannot be ballooned far enough.");
            foreach (var r in room)
            {
                int i = vms.FindIndex(v => v.VmId == r.VmId);
                vms[i] = vms[i] with { Memory = r.After };
                usedMb += r.DeltaMb;
            }
            vms.Add(new BalancingVm(boot.VmId, boot.Config, VmMemory.Boot(boot.Config).WithDemand(boot.DemandMb)));
            usedMb += boot.Config.StartupMb;
        }
        return vms;
    }

    /// <summary>
    /// Balloons balanced VMs, lowest weight first, toward their floors until
    /// <paramref name="neededMb"/> is free. Returns null, and so changes nothing, if they cannot free enough.
    /// </summary>
    public static IReadOnlyList<VmResize>? MakeRoom(long freeMb, int neededMb, IReadOnlyList<BalancingVm> vms)
    {
        var resizes = new List<VmResize>();
        var donors = vms.Where(v => v.IsBalanced).OrderBy(v => v.Config.Weight).ThenBy(v => v.VmId, StringComparer.Ordinal);
        foreach (var vm in donors)
        {
            if (freeMb >= neededMb) break;
            int targetMb = (int)Math.Max(vm.Memory.LowestReachableMb(vm.Config), vm.Memory.AssignedMb - (neededMb - freeMb));
            var after = vm.Memory.ResizeTo(vm.Config, targetMb, vm.Memory.AssignedMb);
            if (after == vm.Memory) continue;
            resizes.Add(new(vm.VmId, vm.Memory, after));
            freeMb += vm.Memory.AssignedMb - after.AssignedMb;
        }
        return freeMb >= neededMb ? resizes : null;
    }
}

/// <summary>
/// Hyper-V's policy: every VM's target is demand × (1 + buffer). When the targets do not fit, each
/// VM first keeps what it cannot be ballooned below; the rest covers demand before buffer, shared
/// in proportion to weight, so high-weight VMs are short last.
/// </summary>
public sealed class HyperVPolicy : IBalancingPolicy
{
    public static readonly HyperVPolicy Instance = new();

    public string Name => "hyperv";

    public IReadOnlyDictionary<string, int> DesiredAssignedMb(int capacityMb, IReadOnlyList<BalancingVm> vms) =>
        Share(capacityMb, vms, v => v.Memory.TargetMb(v.Config));

    /// <summary>Hyper-V's sharing of a host among VMs whose targets <paramref name="targetOf"/> gives.</summary>
    internal static IReadOnlyDictionary<string, int> Share(int capacityMb, IReadOnlyList<BalancingVm> vms, Func<BalancingVm, int> targetOf)
    {
        var balanced = vms.Where(v => v.IsBalanced).ToArray();
        long fixedMb = vms.Where(v => v.Memory.Running && !v.IsBalanced).Sum(v => (long)v.Memory.AssignedMb);
        long availableMb = capacityMb - fixedMb;
        var bases = balanced.Select(v => v.Memory.LowestReachableMb(v.Config)).ToArray();
        var wants = balanced.Select((v, i) => Math.Max(targetOf(v), bases[i])).ToArray();
        if (wants.Sum(w => (long)w) <= availableMb)
        {
            var settled = Enumerable.Range(0, balanced.Length).Select(i => Settle(balanced[i].Memory, wants[i])).ToArray();
            var chosen = settled.Sum(s => (long)s) <= availableMb ? settled : wants;
            return Enumerable.Range(0, balanced.Length).ToDictionary(i => balanced[i].VmId, i => chosen[i]);
        }

        var weights = balanced.Select(v => v.Config.Weight).ToArray();
        long spareMb = Math.Max(0, availableMb - bases.Sum(b => (long)b));
        var demandNeeds = Enumerable.Range(0, balanced.Length)
            .Select(i => Math.Max(0, Math.Min(balanced[i].Memory.DemandLevelMb(balanced[i].Config), wants[i]) - bases[i]))
            .ToArray();
        var forDemand = WeightedShare.Distribute(spareMb, demandNeeds, weights);
        spareMb -= forDemand.Sum(g => (long)g);
        var bufferNeeds = Enumerable.Range(0, balanced.Length).Select(i => wants[i] - bases[i] - forDemand[i]).ToArray();
        var forBuffer = WeightedShare.Distribute(spareMb, bufferNeeds, weights);
        return Enumerable.Range(0, balanced.Length)
            .ToDictionary(i => balanced[i].VmId, i => bases[i] + forDemand[i] + forBuffer[i]);
    }

    /// <summary>
    /// While the host has room, a VM less than one hot-add block above its target keeps what it has:
    /// hot-add rounds up to whole blocks, and ballooning that rounding (or a little demand noise)
    /// back every period would only churn.
    /// </summary>
    private static int Settle(VmMemory memory, int wantMb) =>
        memory.AssignedMb > wantMb && memory.AssignedMb - wantMb < VmMemory.HotAddBlockMb ? memory.AssignedMb : wantMb;
}

/// <summary>Shares memory among needs in proportion to weight (water-filling), in whole pages.</summary>
public static class WeightedShare
{
    /// <summary>
    /// Grants at most each need, in total at most <paramref name="availableMb"/>. Unsatisfied
    /// weighted VMs get shares proportional to their weights; weight-0 VMs get only what the
    /// weighted ones leave, in equal shares.
    /// </summary>
    public static int[] Distribute(long availableMb, IReadOnlyList<int> needsMb, IReadOnlyList<int> weights)
    {
        var grants = new int[needsMb.Count];
        long leftMb = Fill(availableMb, needsMb, grants, i => weights[i] > 0, i => weights[i]);
        Fill(leftMb, needsMb, grants, i => weights[i] == 0, _ => 1);
        return grants;
    }

    private static long Fill(long availableMb, IReadOnlyList<int> needsMb, int[] grants, Func<int, bool> takesPart, Func<int, long> weightOf)
    {
        const int page = VmConfig.PageMb;
        var active = Enumerable.Range(0, needsMb.Count).Where(i => takesPart(i) && needsMb[i] > 0).ToList();
        // Satisfy whoever needs less than a proportional share, then share the rest among the others.
        while (active.Count > 0)
        {
            long totalWeight = active.Sum(weightOf);
            var satisfied = active.Where(i => (long)needsMb[i] * totalWeight <= availableMb * weightOf(i)).ToList();
            if (satisfied.Count == 0) break;
            foreach (var i in satisfied)
            {
                grants[i] = needsMb[i];
                availableMb -= needsMb[i];
            }
            active.RemoveAll(satisfied.Contains);
        }
        if (active.Count == 0) return availableMb;
        long weightSum = active.Sum(weightOf);
        long pool = availableMb;
        foreach (var i in active)
        {
            int share = (int)(pool * weightOf(i) / weightSum / page * page);
            grants[i] = share;
            availableMb -= share;
        }
        // Whole pages left over by rounding go to the heaviest first.
        foreach (var i in active.OrderByDescending(weightOf).ThenBy(i => i))
        {
            if (availableMb < page) break;
            if (grants[i] + page > needsMb[i]) continue;
            grants[i] += page;
            availableMb -= page;
        }
        return availableMb;
    }
}

/// <summary>A VM to create and start on a host, with the demand its guest reports once booted.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmPlacement")]
public sealed record class VmPlacement([property: Id(0)] string VmId, [property: Id(1)] VmConfig Config, [property: Id(2)] int DemandMb);
