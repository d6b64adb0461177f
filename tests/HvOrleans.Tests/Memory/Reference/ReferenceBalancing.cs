// The balancing code as it was before issue 15 rewrote it over flat arrays for speed (97ea9dc), kept
// verbatim but for its names: the oracle that ReferenceEquivalenceTests holds the new engine to.
// Not production code; do not edit it to make a test pass.
#pragma warning disable
namespace HvOrleans.Tests.Memory.Reference;


/// <summary>
/// A VM's memory as the host holds it. <see cref="HighWaterMb"/> is what the guest has been given
/// so far (Startup plus every hot-add); it never shrinks while the VM runs. Ballooned memory is the
/// part of it the host has taken back, so Assigned = HighWater − Ballooned.
/// </summary>
public sealed record class RefMemory(
    bool Running,
    int AssignedMb,
    int HighWaterMb,
    int DemandMb,
    bool DemandReported)
{
    /// <summary>Memory the guest firmware keeps: the guest's own total is HighWater − this.</summary>
    public const int FirmwareMb = 32;
    public const int HotAddBlockMb = 128;

    public static readonly RefMemory Stopped = new(false, 0, 0, 0, false);

    public int BalloonedMb => HighWaterMb - AssignedMb;

    public int HotAddedMb(VmConfig config) => Running ? HighWaterMb - config.StartupMb : 0;

    public static RefMemory Boot(VmConfig config) => new(true, config.StartupMb, config.StartupMb, 0, false);

    public RefMemory WithDemand(int demandMb)
    {
        Rule.Require(Running, "vm-must-be-running",
            $"Demand is reported by a running guest; this VM is stopped (demand {demandMb} MB).");
        Rule.Require(demandMb is >= 0 and <= VmConfig.LargestMaximumMb, "demand-0-to-1tb",
            $"DemandMb must be 0..{VmConfig.LargestMaximumMb}; got {demandMb}.");
        return this with { DemandMb = demandMb, DemandReported = true };
    }

    /// <summary>Demand × (1 + buffer), rounded up to a whole MB: what covers demand plus buffer.</summary>
    public long DemandWithBufferMb(VmConfig config) => CeilingDiv((long)DemandMb * (100 + config.BufferPercent), 100);

    /// <summary>Demand × (1 + buffer), in whole pages, clamped to [Minimum, Maximum].</summary>
    public int TargetMb(VmConfig config) =>
        (int)Math.Clamp(RoundUpToPage(DemandWithBufferMb(config)), config.MinimumMb, config.MaximumMb);

    /// <summary>Demand in whole pages, clamped to [Minimum, Maximum]: what the guest needs not to page.</summary>
    public int DemandLevelMb(VmConfig config) =>
        (int)Math.Clamp(RoundUpToPage(DemandMb), config.MinimumMb, config.MaximumMb);

    public int GuestTotalMb => Running ? HighWaterMb - FirmwareMb : 0;
    public int GuestUsedMb => Math.Min(DemandMb, GuestTotalMb - BalloonedMb);
    public int GuestFreeMb => GuestTotalMb - GuestUsedMb - BalloonedMb;

    /// <summary>
    /// The free memory a Linux guest keeps for itself when asked to balloon (hv_balloon's floor),
    /// for a guest of <paramref name="guestTotalMb"/> MB.
    /// </summary>
    public static int BalloonFloorMb(int guestTotalMb) => guestTotalMb switch
    {
        < 128 => 8 + guestTotalMb / 2,
        < 512 => 40 + guestTotalMb / 4,
        < 2048 => 104 + guestTotalMb / 8,
        < 8192 => 232 + guestTotalMb / 16,
        _ => 488 + guestTotalMb / 32,
    };

    /// <summary>How much more the guest would give up to the balloon right now, in whole pages.</summary>
    public int BalloonableMb => Math.Max(0, RoundDownToPage(GuestFreeMb - BalloonFloorMb(GuestTotalMb)));

    /// <summary>The lowest Assigned ballooning can reach now: Minimum, or the guest's floor if higher.</summary>
    public int LowestReachableMb(VmConfig config) =>
        Math.Min(AssignedMb, Math.Max(config.MinimumMb, AssignedMb - BalloonableMb));

    /// <summary>
    /// Moves Assigned toward <paramref name="targetMb"/> as Hyper-V does. Shrinking balloons whole
    /// pages, never below Minimum nor past the guest's floor. Growing first unballoons, then hot-adds
    /// 128 MB blocks (the last may be partial to land on Maximum, or to take what the host can back
    /// when it cannot back a whole block), never past <paramref name="ceilingMb"/>, the most the host
    /// can give this VM now.
    /// </summary>
    public RefMemory ResizeTo(VmConfig config, int targetMb, int ceilingMb)
    {
        if (!Running || targetMb == AssignedMb) return this;
        return targetMb < AssignedMb ? Balloon(config, targetMb) : Grow(config, targetMb, ceilingMb);
    }

    private RefMemory Balloon(VmConfig config, int targetMb)
    {
        int takeMb = RoundDownToPage(AssignedMb - Math.Max(targetMb, LowestReachableMb(config)));
        return takeMb <= 0 ? this : this with { AssignedMb = AssignedMb - takeMb };
    }

    private RefMemory Grow(VmConfig config, int targetMb, int ceilingMb)
    {
        int limitMb = Math.Min(Math.Min(targetMb, config.MaximumMb), Math.Max(ceilingMb, AssignedMb));
        int wantMb = RoundDownToPage(limitMb - AssignedMb);
        if (wantMb <= 0) return this;
        int unballoonMb = Math.Min(BalloonedMb, wantMb);
        int remainingMb = wantMb - unballoonMb;
        int hotAddMb = 0;
        if (remainingMb > 0)
        {
            int roomToMaximumMb = config.MaximumMb - HighWaterMb;
            int roomOnHostMb = Math.Max(ceilingMb, AssignedMb) - AssignedMb - unballoonMb;
            hotAddMb = Math.Min((int)CeilingDiv(remainingMb, HotAddBlockMb) * HotAddBlockMb, roomToMaximumMb);
            // A block the host cannot back in full: the guest onlines only the part that is backed
            // (hv_balloon does), so a VM short of memory gets what there is rather than nothing.
            if (hotAddMb > roomOnHostMb) hotAddMb = Math.Min((int)RoundUpToPage(remainingMb), RoundDownToPage(roomOnHostMb));
        }
        return this with { AssignedMb = AssignedMb + unballoonMb + hotAddMb, HighWaterMb = HighWaterMb + hotAddMb };
    }

    private static long CeilingDiv(long a, long b) => (a + b - 1) / b;
    private static long RoundUpToPage(long mb) => CeilingDiv(mb, VmConfig.PageMb) * VmConfig.PageMb;
    private static int RoundDownToPage(int mb) => mb <= 0 ? 0 : mb / VmConfig.PageMb * VmConfig.PageMb;
}



/// <summary>One VM as a balancing pass sees it.</summary>
public sealed record class RefVm(
    string VmId,
    VmConfig Config,
    RefMemory Memory)
{
    /// <summary>Only a running guest that has reported its demand is balanced; a silent one keeps what it has.</summary>
    public bool IsBalanced => Memory.Running && Memory.DemandReported;
}

/// <summary>A VM's memory before and after a pass.</summary>
public sealed record class RefResize(
    string VmId,
    RefMemory Before,
    RefMemory After)
{
    public int DeltaMb => After.AssignedMb - Before.AssignedMb;
    public int HotAddedMb => After.HighWaterMb - Before.HighWaterMb;
    /// <summary>Positive: ballooned; negative: unballooned.</summary>
    public int BalloonDeltaMb => After.BalloonedMb - Before.BalloonedMb;
}

/// <summary>Decides how much memory each balanced VM of one host should have.</summary>
public interface IRefPolicy
{
    string Name { get; }

    /// <summary>
    /// The Assigned each balanced VM should move toward. <paramref name="capacityMb"/> is what the
    /// host can give all its VMs (physical − reserve); unbalanced VMs keep their Assigned.
    /// </summary>
    IReadOnlyDictionary<string, int> DesiredAssignedMb(int capacityMb, IReadOnlyList<RefVm> vms);
}

/// <summary>
/// Turns a policy's wishes into what the VMs really get: shrinks first (so the host never
/// over-commits in between), then grows, highest weight first, each capped by what is free.
/// </summary>
public static class RefPass
{
    /// <summary>
    /// Passes until one changes nothing, at most <paramref name="maxPasses"/>: a step-limited policy
    /// (MoM, Proxmox) needs several of its periods to follow a change. One resize per VM, first
    /// Before to last After.
    /// </summary>
    public static IReadOnlyList<RefResize> Converge(IRefPolicy policy, int capacityMb, IReadOnlyList<RefVm> vms, int maxPasses)
    {
        var current = vms.ToDictionary(v => v.VmId, StringComparer.Ordinal);
        var before = new Dictionary<string, RefMemory>(StringComparer.Ordinal);
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
            .Select(b => new RefResize(b.Key, b.Value, current[b.Key].Memory)).ToList();
    }

    public static IReadOnlyList<RefResize> Run(IRefPolicy policy, int capacityMb, IReadOnlyList<RefVm> vms)
    {
        // Policies share leftovers by position: fix the order so a host's storage order cannot change a decision.
        vms = vms.OrderBy(v => v.VmId, StringComparer.Ordinal).ToList();
        var desired = policy.DesiredAssignedMb(capacityMb, vms);
        long usedMb = vms.Where(v => v.Memory.Running).Sum(v => (long)v.Memory.AssignedMb);
        var resizes = new List<RefResize>();
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
        foreach (var phase in new Func<RefVm, int>[] { v => Math.Min(desired[v.VmId], v.Memory.DemandLevelMb(v.Config)), v => desired[v.VmId] })
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
        resizes.AddRange(growers.Where(v => grown[v.VmId] != v.Memory).Select(v => new RefResize(v.VmId, v.Memory, grown[v.VmId])));
        return resizes;
    }

    /// <summary>
    /// Boots VMs one after another, as a host starts them: each start may balloon the VMs already
    /// running (whose guests have reported) toward their floors. Each new guest reports its first
    /// demand right after boot. Refused whole, naming the VM, if one cannot be made room for.
    /// </summary>
    public static List<RefVm> BootInTurn(int capacityMb, IReadOnlyList<RefVm> running, IReadOnlyList<RefPlacement> boots)
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
            vms.Add(new RefVm(boot.VmId, boot.Config, RefMemory.Boot(boot.Config).WithDemand(boot.DemandMb)));
            usedMb += boot.Config.StartupMb;
        }
        return vms;
    }

    /// <summary>
    /// Balloons balanced VMs, lowest weight first, toward their floors until
    /// <paramref name="neededMb"/> is free. Returns null, and so changes nothing, if they cannot free enough.
    /// </summary>
    public static IReadOnlyList<RefResize>? MakeRoom(long freeMb, int neededMb, IReadOnlyList<RefVm> vms)
    {
        var resizes = new List<RefResize>();
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
public sealed class RefHyperV : IRefPolicy
{
    public static readonly RefHyperV Instance = new();

    public string Name => "hyperv";

    public IReadOnlyDictionary<string, int> DesiredAssignedMb(int capacityMb, IReadOnlyList<RefVm> vms) =>
        Share(capacityMb, vms, v => v.Memory.TargetMb(v.Config));

    /// <summary>Hyper-V's sharing of a host among VMs whose targets <paramref name="targetOf"/> gives.</summary>
    internal static IReadOnlyDictionary<string, int> Share(int capacityMb, IReadOnlyList<RefVm> vms, Func<RefVm, int> targetOf)
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
        var forDemand = RefShare.Distribute(spareMb, demandNeeds, weights);
        spareMb -= forDemand.Sum(g => (long)g);
        var bufferNeeds = Enumerable.Range(0, balanced.Length).Select(i => wants[i] - bases[i] - forDemand[i]).ToArray();
        var forBuffer = RefShare.Distribute(spareMb, bufferNeeds, weights);
        return Enumerable.Range(0, balanced.Length)
            .ToDictionary(i => balanced[i].VmId, i => bases[i] + forDemand[i] + forBuffer[i]);
    }

    /// <summary>
    /// While the host has room, a VM less than one hot-add block above its target keeps what it has:
    /// hot-add rounds up to whole blocks, and ballooning that rounding (or a little demand noise)
    /// back every period would only churn.
    /// </summary>
    private static int Settle(RefMemory memory, int wantMb) =>
        memory.AssignedMb > wantMb && memory.AssignedMb - wantMb < RefMemory.HotAddBlockMb ? memory.AssignedMb : wantMb;
}

/// <summary>Shares memory among needs in proportion to weight (water-filling), in whole pages.</summary>
public static class RefShare
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
public sealed record class RefPlacement(string VmId, VmConfig Config, int DemandMb);



/// <summary>The balancing policies by name: the production one and its peers, for side-by-side runs.</summary>
public static class RefPolicies
{
    public static readonly IReadOnlyList<IRefPolicy> All =
        [RefStatic.Instance, RefHyperV.Instance, RefSqueezed.Instance, RefMom.Instance, RefProxmox.Instance, RefLean.Instance];

    public static IRefPolicy ByName(string name) =>
        All.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new HvRuleException("policy-known",
            $"Unknown balancing policy '{name}'; known: {string.Join(", ", All.Select(p => p.Name))}.");

    internal static Dictionary<string, int> Each(IEnumerable<RefVm> vms, Func<RefVm, int> desiredMb) =>
        vms.Where(v => v.IsBalanced).ToDictionary(v => v.VmId, desiredMb);
}

/// <summary>No dynamic memory: every VM keeps what it booted with (Startup). The baseline overcommit must beat.</summary>
public sealed class RefStatic : IRefPolicy
{
    public static readonly RefStatic Instance = new();
    public string Name => "static";

    public IReadOnlyDictionary<string, int> DesiredAssignedMb(int capacityMb, IReadOnlyList<RefVm> vms) =>
        RefPolicies.Each(vms, v => v.Memory.AssignedMb);
}

/// <summary>
/// XenServer's squeezed: γ = clamp(surplus / Σ(dynamic max − dynamic min), 0, 1) and every VM gets
/// dynamic min + γ·(dynamic max − dynamic min). Demand-blind; Minimum/Maximum are the dynamic range.
/// </summary>
public sealed class RefSqueezed : IRefPolicy
{
    public static readonly RefSqueezed Instance = new();
    public string Name => "squeezed";

    public IReadOnlyDictionary<string, int> DesiredAssignedMb(int capacityMb, IReadOnlyList<RefVm> vms)
    {
        var balanced = vms.Where(v => v.IsBalanced).ToList();
        long fixedMb = vms.Where(v => v.Memory.Running && !v.IsBalanced).Sum(v => (long)v.Memory.AssignedMb);
        long surplusMb = capacityMb - fixedMb - balanced.Sum(v => (long)v.Config.MinimumMb);
        long rangeMb = balanced.Sum(v => (long)v.Config.MaximumMb - v.Config.MinimumMb);
        double gamma = rangeMb == 0 ? 0 : Math.Clamp((double)surplusMb / rangeMb, 0, 1);
        return RefPolicies.Each(balanced, v =>
            Pages(v.Config.MinimumMb + gamma * (v.Config.MaximumMb - v.Config.MinimumMb)));
    }

    internal static int Pages(double mb) => (int)(mb / VmConfig.PageMb) * VmConfig.PageMb;
}

/// <summary>
/// oVirt MoM's balloon rule: the host is under pressure below 20 % free; then guests with more than
/// 20 % free shrink toward 20 % free, at most 5 % of their memory per step; guests with less than
/// 20 % free grow 5 % per step; changes under 0.25 % are ignored.
/// </summary>
public sealed class RefMom : IRefPolicy
{
    public static readonly RefMom Instance = new();
    public string Name => "mom";
    private const double FreeTarget = 0.20, Step = 0.05, Ignore = 0.0025;

    public IReadOnlyDictionary<string, int> DesiredAssignedMb(int capacityMb, IReadOnlyList<RefVm> vms)
    {
        long usedMb = vms.Where(v => v.Memory.Running).Sum(v => (long)v.Memory.AssignedMb);
        bool underPressure = capacityMb - usedMb < FreeTarget * capacityMb;
        return RefPolicies.Each(vms, v =>
        {
            int assignedMb = v.Memory.AssignedMb;
            double guestFree = 1 - (double)v.Memory.DemandMb / assignedMb;
            double desired = assignedMb;
            if (guestFree < FreeTarget) desired = assignedMb * (1 + Step);
            else if (underPressure) desired = Math.Max(v.Memory.DemandMb / (1 - FreeTarget), assignedMb * (1 - Step));
            return Math.Abs(desired - assignedMb) < Ignore * assignedMb ? assignedMb
                : Math.Clamp(RefSqueezed.Pages(desired), v.Config.MinimumMb, v.Config.MaximumMb);
        });
    }
}

/// <summary>
/// Proxmox auto-ballooning: aims at 80 % host use; below it every VM grows toward Maximum, above it
/// every VM shrinks toward Minimum, at most 100 MB per VM per round, shared by weight (shares).
/// Demand-blind, as Proxmox is: only the guest's own floor protects it.
/// </summary>
public sealed class RefProxmox : IRefPolicy
{
    public static readonly RefProxmox Instance = new();
    public string Name => "proxmox";
    private const double UseTarget = 0.80;
    private const int StepMb = 100;

    public IReadOnlyDictionary<string, int> DesiredAssignedMb(int capacityMb, IReadOnlyList<RefVm> vms)
    {
        var balanced = vms.Where(v => v.IsBalanced).ToList();
        long usedMb = vms.Where(v => v.Memory.Running).Sum(v => (long)v.Memory.AssignedMb);
        long gapMb = (long)(UseTarget * capacityMb) - usedMb;
        if (balanced.Count == 0 || gapMb == 0) return RefPolicies.Each(balanced, v => v.Memory.AssignedMb);
        bool grow = gapMb > 0;
        // Heavier shares grow first and shrink last.
        var room = balanced.Select(v => Math.Min(StepMb, grow ? v.Config.MaximumMb - v.Memory.AssignedMb : v.Memory.AssignedMb - v.Config.MinimumMb)).ToArray();
        var weights = balanced.Select(v => grow ? Math.Max(1, v.Config.Weight) : VmConfig.HighestWeight + 1 - v.Config.Weight).ToArray();
        var moves = RefShare.Distribute(Math.Abs(gapMb), room.Select(r => Math.Max(0, r) / VmConfig.PageMb * VmConfig.PageMb).ToArray(), weights);
        return Enumerable.Range(0, balanced.Count).ToDictionary(i => balanced[i].VmId,
            i => balanced[i].Memory.AssignedMb + (grow ? moves[i] : -moves[i]));
    }
}

/// <summary>
/// HvOrleans' own policy, "lean": Hyper-V's targets and shortage rules, except that hot-add (growing
/// past the guest's high-water mark) covers demand only, never the buffer — the buffer comes from
/// unballooning alone. Hot-add cannot be undone until restart, and a Linux guest keeps a free floor
/// that grows with its RAM and can never be ballooned away; every MB hot-added for buffer therefore
/// locks floor memory for good, and on a short host that locked memory is somebody's unmet demand.
/// </summary>
public sealed class RefLean : IRefPolicy
{
    public static readonly RefLean Instance = new();
    public string Name => "lean";

    public IReadOnlyDictionary<string, int> DesiredAssignedMb(int capacityMb, IReadOnlyList<RefVm> vms) =>
        RefHyperV.Share(capacityMb, vms, LeanTarget);

    private static int LeanTarget(RefVm v)
    {
        int targetMb = v.Memory.TargetMb(v.Config);
        return targetMb <= v.Memory.HighWaterMb ? targetMb : Math.Max(v.Memory.HighWaterMb, v.Memory.DemandLevelMb(v.Config));
    }
}
