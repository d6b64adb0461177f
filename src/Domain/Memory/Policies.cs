namespace HvOrleans.Memory;

/// <summary>The balancing policies by name: the production one and its peers, for side-by-side runs.</summary>
public static class BalancingPolicies
{
    public static readonly IReadOnlyList<IBalancingPolicy> All =
        [StaticPolicy.Instance, HyperVPolicy.Instance, SqueezedPolicy.Instance, MomPolicy.Instance, ProxmoxPolicy.Instance, LeanPolicy.Instance, EsxiPolicy.Instance, PredictPolicy.Instance];

    // Looked up on every balancing call (a host grain takes its policy by name): a plain loop, no closure.
    public static IBalancingPolicy ByName(string name)
    {
        for (int i = 0; i < All.Count; i++)
            if (All[i].Name.Equals(name, StringComparison.OrdinalIgnoreCase)) return All[i];
        throw new HvRuleException("policy-known", $"Unknown balancing policy '{name}'; known: {string.Join(", ", All.Select(p => p.Name))}.");
    }

    /// <summary>The host's used memory: what its running VMs hold.</summary>
    internal static long UsedMb(ReadOnlySpan<VmSlot> vms)
    {
        long usedMb = 0;
        foreach (ref readonly var vm in vms) if (vm.Running) usedMb += vm.AssignedMb;
        return usedMb;
    }

    /// <summary>Positions of the balanced VMs into <paramref name="positions"/>; their count. <paramref name="fixedMb"/>: what the others running hold.</summary>
    internal static int Balanced(ReadOnlySpan<VmSlot> vms, Span<int> positions, out long fixedMb)
    {
        (int n, fixedMb) = (0, 0);
        for (int i = 0; i < vms.Length; i++)
            if (vms[i].IsBalanced) positions[n++] = i;
            else if (vms[i].Running) fixedMb += vms[i].AssignedMb;
        return n;
    }

    internal static int Pages(double mb) => (int)(mb / VmConfig.PageMb) * VmConfig.PageMb;
}

/// <summary>No dynamic memory: every VM keeps what it booted with (Startup). The baseline overcommit must beat.</summary>
public sealed class StaticPolicy : BalancingPolicy
{
    public static readonly StaticPolicy Instance = new();
    public override string Name => "static";

    public override void Desire(BalancingHost host, int capacityMb)
    {
        for (int i = 0; i < host.Count; i++) host.DesiredMb[i] = host.Vms[i].AssignedMb;
    }
}

/// <summary>
/// Hyper-V's policy: every VM's target is demand × (1 + buffer). When the targets do not fit, each
/// VM first keeps what it cannot be ballooned below; the rest covers demand before buffer, shared
/// in proportion to weight, so high-weight VMs are short last.
/// </summary>
public sealed class HyperVPolicy : BalancingPolicy
{
    public static readonly HyperVPolicy Instance = new();
    public override string Name => "hyperv";

    public override void Desire(BalancingHost host, int capacityMb) => Share(host, capacityMb, TargetRule.HyperV);

    /// <summary>Hyper-V's sharing of a host among its balanced VMs, toward Hyper-V's targets or <see cref="LeanPolicy"/>'s.</summary>
    internal static void Share(BalancingHost host, int capacityMb, TargetRule rule, double scale = 1)
    {
        var vms = host.Vms.AsSpan(0, host.Count);
        var s = host.Scratch;
        int n = BalancingPolicies.Balanced(vms, s.Positions, out long fixedMb);
        Span<int> at = s.Positions.AsSpan(0, n), bases = s.Bases.AsSpan(0, n), wants = s.Wants.AsSpan(0, n);
        long availableMb = capacityMb - fixedMb, wantedMb = 0, settledMb = 0, floorsMb = 0;
        for (int k = 0; k < n; k++)
        {
            ref readonly var vm = ref vms[at[k]];
            bases[k] = vm.LowestReachableMb;
            wants[k] = Math.Max(rule switch
            {
                TargetRule.Lean => LeanPolicy.Target(vm),
                TargetRule.Predict => PredictPolicy.Target(vm, scale),
                _ => vm.TargetMb,
            }, bases[k]);
            wantedMb += wants[k];
            settledMb += Settle(vm, wants[k]);
            floorsMb += bases[k];
        }
        if (wantedMb <= availableMb)
        {
            bool settle = settledMb <= availableMb;
            for (int k = 0; k < n; k++) host.DesiredMb[at[k]] = settle ? Settle(vms[at[k]], wants[k]) : wants[k];
            return;
        }

        Span<int> weights = s.Weights.AsSpan(0, n), needs = s.Needs.AsSpan(0, n), forDemand = s.Grants.AsSpan(0, n), forBuffer = s.Grants2.AsSpan(0, n);
        long spareMb = Math.Max(0, availableMb - floorsMb);
        for (int k = 0; k < n; k++)
        {
            weights[k] = vms[at[k]].Weight;
            needs[k] = Math.Max(0, Math.Min(vms[at[k]].DemandLevelMb, wants[k]) - bases[k]);
        }
        WeightedShare.Distribute(spareMb, needs, weights, forDemand, s);
        for (int k = 0; k < n; k++)
        {
            spareMb -= forDemand[k];
            needs[k] = wants[k] - bases[k] - forDemand[k];
        }
        WeightedShare.Distribute(spareMb, needs, weights, forBuffer, s);
        for (int k = 0; k < n; k++) host.DesiredMb[at[k]] = bases[k] + forDemand[k] + forBuffer[k];
    }

    /// <summary>
    /// While the host has room, a VM less than one hot-add block above its target keeps what it has:
    /// hot-add rounds up to whole blocks, and ballooning that rounding (or a little demand noise)
    /// back every period would only churn.
    /// </summary>
    private static int Settle(in VmSlot vm, int wantMb) =>
        vm.AssignedMb > wantMb && vm.AssignedMb - wantMb < VmMemory.HotAddBlockMb ? vm.AssignedMb : wantMb;
}

/// <summary>
/// XenServer's squeezed: γ = clamp(surplus / Σ(dynamic max − dynamic min), 0, 1) and every VM gets
/// dynamic min + γ·(dynamic max − dynamic min). Demand-blind; Minimum/Maximum are the dynamic range.
/// </summary>
public sealed class SqueezedPolicy : BalancingPolicy
{
    public static readonly SqueezedPolicy Instance = new();
    public override string Name => "squeezed";

    public override void Desire(BalancingHost host, int capacityMb)
    {
        var vms = host.Vms.AsSpan(0, host.Count);
        var at = host.Scratch.Positions.AsSpan(0, BalancingPolicies.Balanced(vms, host.Scratch.Positions, out long fixedMb));
        long minimumsMb = 0, rangeMb = 0;
        foreach (int i in at)
        {
            minimumsMb += vms[i].MinimumMb;
            rangeMb += (long)vms[i].MaximumMb - vms[i].MinimumMb;
        }
        long surplusMb = capacityMb - fixedMb - minimumsMb;
        double gamma = rangeMb == 0 ? 0 : Math.Clamp((double)surplusMb / rangeMb, 0, 1);
        foreach (int i in at)
            host.DesiredMb[i] = BalancingPolicies.Pages(vms[i].MinimumMb + gamma * (vms[i].MaximumMb - vms[i].MinimumMb));
    }
}

/// <summary>
/// oVirt MoM's balloon policy as vdsm ships it (<c>04-balloon.policy</c>, MoM's <c>balloon.rules</c>), every
/// round (here a pass): host free = (capacity − what the VMs hold) / capacity.
/// <list type="bullet">
/// <item><b>Host under pressure</b> (free &lt; 20 %): every guest shrinks toward used + f × current, f = free
/// (normal pressure: 20 % × free / 20 %) or free − 5 % when free ≤ 5 % (critical: negative, the guest is
/// made to swap) — by at most 5 % of its current size a round.</item>
/// <item><b>Host relaxed</b>: every guest below its maximum grows 5 % a round, and at least to used + 20 %
/// of its maximum, up to its maximum.</item>
/// </list>
/// A change under 0.25 % of the current size is not made. MoM's "current" is the balloon's size and its
/// maximum the VM's memory; here they are Assigned and Maximum, growth past the guest's total being
/// Hyper-V's hot-add (a MoM guest boots at its maximum and only balloons).
/// </summary>
public sealed class MomPolicy : BalancingPolicy
{
    public static readonly MomPolicy Instance = new();
    public override string Name => "mom";
    private const double PressureThreshold = 0.20, PressureCritical = 0.05, MinGuestFree = 0.20, MaxChange = 0.05, MinChange = 0.0025;

    public override void Desire(BalancingHost host, int capacityMb)
    {
        var vms = host.Vms.AsSpan(0, host.Count);
        double hostFree = capacityMb <= 0 ? 0 : (double)(capacityMb - BalancingPolicies.UsedMb(vms)) / capacityMb;
        bool pressure = hostFree < PressureThreshold;
        double guestFree = hostFree <= PressureCritical ? hostFree - 0.05 : MinGuestFree * hostFree / PressureThreshold;
        for (int i = 0; i < vms.Length; i++)
        {
            ref readonly var vm = ref vms[i];
            if (!vm.IsBalanced) continue;
            int currentMb = vm.AssignedMb;
            double usedMb = Math.Min(vm.DemandMb, currentMb), size = currentMb;
            if (pressure)
                size = Math.Min(currentMb, Math.Max(currentMb * (1 - MaxChange), usedMb + guestFree * currentMb));
            else if (currentMb < vm.MaximumMb)
                size = Math.Max(Math.Min(currentMb * (1 + MaxChange), vm.MaximumMb), usedMb + MinGuestFree * vm.MaximumMb);
            host.DesiredMb[i] = Math.Abs(size - currentMb) <= MinChange * currentMb ? currentMb
                : Math.Clamp(BalancingPolicies.Pages(size), vm.MinimumMb, vm.MaximumMb);
        }
    }
}

/// <summary>
/// Proxmox VE's auto-ballooning, as pvestatd runs it every 10 s (<c>PVE::AutoBalloon::compute_alg1</c>):
/// goal = 80 % of the host's whole memory − what the host uses (its own reserve counted as used);
/// nothing when |goal| ≤ 10 MB. A grow request goes first to the VMs under memory pressure (guest free
/// memory ≤ ¼ of their minimum), then, if they took none of it, to all; a shrink request first to the
/// VMs with enough free memory, then to all. Within a list every VM's share is
/// <c>minimum + shares/Σshares × (Σ(balloon − minimum) + goal)</c>, clamped to [minimum, maximum] and
/// re-divided among the rest when one is clamped, and a VM moves at most 100 MB per round toward its
/// share. Shares are the VM's weight (0: left alone, as Proxmox skips shares=0). A pass is a round (30 a
/// 5-minute tick, as 10 s rounds would be).
/// </summary>
public sealed class ProxmoxPolicy : BalancingPolicy
{
    public static readonly ProxmoxPolicy Instance = new();
    public override string Name => "proxmox";
    private const double UseTarget = 0.80;
    private const int MaxChangeMb = 100, IgnoreMb = 10;

    public override void Desire(BalancingHost host, int capacityMb)
    {
        var vms = host.Vms.AsSpan(0, host.Count);
        var s = host.Scratch;
        int n = BalancingPolicies.Balanced(vms, s.Positions, out _);
        var at = s.Positions.AsSpan(0, n);
        // res: each VM's new balloon target (starting from what it holds); lists of positions into 'at'.
        Span<int> res = s.Bases.AsSpan(0, n), all = s.Wants.AsSpan(0, n), pressed = s.Grants.AsSpan(0, n), easy = s.Grants2.AsSpan(0, n);
        int pressedCount = 0, easyCount = 0;
        int allCount = 0;
        for (int k = 0; k < n; k++)
        {
            ref readonly var vm = ref vms[at[k]];
            res[k] = vm.AssignedMb;
            if (vm.Weight == 0) continue;   // shares 0: left out of auto-ballooning
            all[allCount++] = k;
            if (vm.GuestFreeMb > 0.25 * vm.MinimumMb && vm.AssignedMb >= vm.MinimumMb) easy[easyCount++] = k;
            else pressed[pressedCount++] = k;
        }
        long memTotalMb = (long)capacityMb + host.ReserveMb, memUsedMb = host.ReserveMb + BalancingPolicies.UsedMb(vms);
        long goalMb = (long)(UseTarget * memTotalMb) - memUsedMb;
        if (goalMb > IgnoreMb)
        {
            long rest = Change(vms, at, res, pressed[..pressedCount], goalMb, s);
            if (rest >= goalMb) Change(vms, at, res, all[..allCount], rest, s);   // the pressured VMs took nothing: all of them
        }
        else if (goalMb < -IgnoreMb)
        {
            long rest = Change(vms, at, res, easy[..easyCount], goalMb, s);
            if (rest <= goalMb) Change(vms, at, res, all[..allCount], rest, s);
        }
        for (int k = 0; k < n; k++) host.DesiredMb[at[k]] = res[k];
    }

    /// <summary><c>compute_alg1</c>'s change_func: moves the listed VMs' targets by up to <paramref name="goalMb"/> in all; returns what is left.</summary>
    private static long Change(ReadOnlySpan<VmSlot> vms, ReadOnlySpan<int> at, Span<int> res, ReadOnlySpan<int> list, long goalMb, ShareScratch s)
    {
        Span<int> done = s.Needs.AsSpan(0, at.Length);
        foreach (int k in list) done[k] = 0;
        long rest = goalMb;
        bool repeat = true, progress = true;
        while (rest != 0 && repeat && progress)
        {
            (repeat, progress) = (false, false);
            long sharesTotal = 0, allocOld = 0, changes = 0;
            foreach (int k in list)
            {
                if (done[k] != 0) continue;
                allocOld += res[k] - vms[at[k]].MinimumMb;
                sharesTotal += Shares(vms[at[k]]);
            }
            long allocNew = allocOld + rest;
            foreach (int k in list)
            {
                if (done[k] != 0) continue;
                ref readonly var vm = ref vms[at[k]];
                long desired = vm.MinimumMb + (long)((double)allocNew / sharesTotal * Shares(vm));
                if (desired > vm.MaximumMb) (desired, repeat) = (vm.MaximumMb, true);
                else if (desired < vm.MinimumMb) (desired, repeat) = (vm.MinimumMb, true);
                long target;
                if (goalMb > 0 && desired > vm.AssignedMb) target = Math.Min(vm.AssignedMb + MaxChangeMb, desired);
                else if (desired < vm.AssignedMb) target = Math.Max(vm.AssignedMb - MaxChangeMb, desired);
                else { done[k] = 1; continue; }
                int next = BalancingPolicies.Pages(target);
                if (next == vm.AssignedMb) continue;
                int change = next - res[k];
                res[k] = next;
                if (change == 0) continue;
                changes += change;
                repeat = true;
                progress = true;
            }
            rest -= changes;
        }
        return rest;
    }

    private static int Shares(in VmSlot vm) => vm.Weight;
}

/// <summary>
/// VMware ESXi: a VM is given the pages it touches (here: grows to its demand, no buffer) and keeps
/// them — ESXi takes nothing back while the host has free memory. When free memory falls below 64 % of
/// minFree (the "soft" state) the balloon reclaims until free is back at minFree ("clear"), from the VM
/// with the fewest shares per allocated page, where idle pages are taxed: ρ = shares / (pages × (f +
/// k(1 − f))), f the active fraction, k = 1/(1 − τ), τ = 0.75 (Mem.IdleTax's default; Waldspurger,
/// "Memory Resource Management in VMware ESX Server", OSDI 2002). minFree: 6 % of the host's first 4 GB,
/// 4 % of the next 8, 2 % of the next 16 (901 MB at 28 GB, often quoted as 899), 1 % of the rest. Never below Minimum (the
/// reservation). Compression and host swapping (the "hard" and "low" states) have no counterpart here.
/// </summary>
public sealed class EsxiPolicy : BalancingPolicy
{
    public static readonly EsxiPolicy Instance = new();
    public override string Name => "esxi";
    private const double IdleTax = 0.75, SoftShare = 0.64;
    private const int StepMb = 64;

    /// <summary>minFree for a host of <paramref name="hostMb"/> MB of memory.</summary>
    public static double MinFreeMb(long hostMb) =>
        0.06 * Math.Min(hostMb, 4096) + 0.04 * Math.Clamp(hostMb - 4096, 0, 8192)
        + 0.02 * Math.Clamp(hostMb - 12288, 0, 16384) + 0.01 * Math.Max(0, hostMb - 28672);

    public override void Desire(BalancingHost host, int capacityMb)
    {
        var vms = host.Vms.AsSpan(0, host.Count);
        var s = host.Scratch;
        int n = BalancingPolicies.Balanced(vms, s.Positions, out long fixedMb);
        var at = s.Positions.AsSpan(0, n);
        Span<int> alloc = s.Bases.AsSpan(0, n);
        long usedMb = fixedMb;
        for (int k = 0; k < n; k++)
        {
            ref readonly var vm = ref vms[at[k]];
            alloc[k] = Math.Max(vm.AssignedMb, vm.DemandLevelMb);   // touched pages are granted and kept
            usedMb += alloc[k];
        }
        double minFreeMb = MinFreeMb((long)capacityMb + host.ReserveMb);
        double freeMb = capacityMb - usedMb;
        if (freeMb < SoftShare * minFreeMb)
        {
            double reclaimMb = minFreeMb - freeMb;
            double costOfIdle = 1 / (1 - IdleTax);
            while (reclaimMb > 0)
            {
                int victim = -1;
                double lowest = double.MaxValue;
                for (int k = 0; k < n; k++)
                {
                    ref readonly var vm = ref vms[at[k]];
                    if (alloc[k] <= vm.MinimumMb) continue;
                    double active = Math.Min(1.0, (double)vm.DemandMb / alloc[k]);
                    double rho = Math.Max(1, vm.Weight) / (alloc[k] * (active + costOfIdle * (1 - active)));
                    if (rho < lowest) (lowest, victim) = (rho, k);
                }
                if (victim < 0) break;
                int takeMb = (int)Math.Min(Math.Min(StepMb, alloc[victim] - vms[at[victim]].MinimumMb), Math.Ceiling(reclaimMb));
                takeMb = Math.Max(VmConfig.PageMb, takeMb / VmConfig.PageMb * VmConfig.PageMb);
                alloc[victim] -= Math.Min(takeMb, alloc[victim] - vms[at[victim]].MinimumMb);
                reclaimMb -= takeMb;
            }
        }
        for (int k = 0; k < n; k++) host.DesiredMb[at[k]] = alloc[k];
    }
}

/// <summary>
/// HvOrleans' own policy, "lean": Hyper-V's targets and shortage rules, except that hot-add (growing
/// past the guest's high-water mark) covers demand only, never the buffer — the buffer comes from
/// unballooning alone. Hot-add cannot be undone until restart, and a Linux guest keeps a free floor
/// that grows with its RAM and can never be ballooned away; every MB hot-added for buffer therefore
/// locks floor memory for good, and on a short host that locked memory is somebody's unmet demand.
/// </summary>
public sealed class LeanPolicy : BalancingPolicy
{
    public static readonly LeanPolicy Instance = new();
    public override string Name => "lean";

    public override void Desire(BalancingHost host, int capacityMb) => HyperVPolicy.Share(host, capacityMb, TargetRule.Lean);

    internal static int Target(in VmSlot vm)
    {
        int targetMb = vm.TargetMb;
        return targetMb <= vm.HighWaterMb ? targetMb : Math.Max(vm.HighWaterMb, vm.DemandLevelMb);
    }
}

/// <summary>What a VM's target is made of, in <see cref="HyperVPolicy.Share"/>.</summary>
internal enum TargetRule { HyperV, Lean, Predict }

/// <summary>
/// HvOrleans' predicting policy, "predict": a VM's target is its demand plus the rise its own history
/// says may come before the next decision (<see cref="VmSlot.RiseMb"/>, <see cref="DemandRise"/>; at
/// least 5 % of demand), not a fixed share of its demand — a steady VM holds little beyond its
/// demand, a VM whose demand jumps holds room for its jumps. When the host can give every VM more than
/// that and still keep <see cref="KeepFreePercent"/> of its capacity free, the headroom of all grows
/// alike, up to <see cref="MostRises"/> rises: idle host memory goes where the history says the next
/// jump will land, in proportion to it. Hot-add, which cannot be taken back before a restart, goes no
/// further than Hyper-V's own target (demand + buffer) or one rise: the spread comes from unballooning
/// alone. Shortage is shared as Hyper-V shares it: floors, demand before headroom, by weight.
/// </summary>
public sealed class PredictPolicy(double mostRises, int keepFreePercent) : BalancingPolicy
{
    /// <summary>The parameters <c>hv sim kfold</c> chooses on all the shipped VM series (docs/POLICIES.md): the balancer's.</summary>
    public static readonly PredictPolicy Instance = new(mostRises: 64, keepFreePercent: 0);

    /// <summary>The headroom's growth steps, from <see cref="MostRises"/> down by this factor to 1.</summary>
    private const double ScaleStep = 1.5;
    private const int LeastHeadroomPercent = 5, MaxSteps = 64;

    public override string Name => "predict";

    /// <summary>The most headroom a VM is given on a roomy host, in multiples of its recent largest rise.</summary>
    public double MostRises { get; } = mostRises >= 1 ? mostRises
        : throw new ArgumentOutOfRangeException(nameof(mostRises), mostRises, "At least one rise.");

    /// <summary>The share of the host's capacity that spreading idle memory as headroom leaves free.</summary>
    public int KeepFreePercent { get; } = keepFreePercent is >= 0 and < 100 ? keepFreePercent
        : throw new ArgumentOutOfRangeException(nameof(keepFreePercent), keepFreePercent, "0..99 %.");

    public override string ToString() => $"{Name}(rises ≤ {MostRises}, keep {KeepFreePercent} % free)";

    public override void Desire(BalancingHost host, int capacityMb) =>
        HyperVPolicy.Share(host, capacityMb, TargetRule.Predict, HeadroomScale(host, capacityMb));

    /// <summary>
    /// The most rises (<see cref="MostRises"/>, then ÷1.5 a step) that every balanced VM's target can
    /// hold within the room to spread, or 1 when even the smallest step does not fit. What the targets
    /// want grows with the rises, so the steps are bisected: a few sums over the VMs, not one a step.
    /// </summary>
    private double HeadroomScale(BalancingHost host, int capacityMb)
    {
        var vms = host.Vms.AsSpan(0, host.Count);
        var at = host.Scratch.Positions.AsSpan(0, BalancingPolicies.Balanced(vms, host.Scratch.Positions, out long fixedMb));
        long roomMb = capacityMb - (long)capacityMb * KeepFreePercent / 100 - fixedMb;
        Span<double> scales = stackalloc double[MaxSteps];
        int steps = 0;
        for (double scale = MostRises; scale > 1 && steps < MaxSteps; scale /= ScaleStep) scales[steps++] = scale;
        // The first step (the largest scale) that fits: every step after it fits too.
        int low = 0, high = steps;
        while (low < high)
        {
            int mid = (low + high) / 2;
            if (Fits(vms, at, scales[mid], roomMb)) high = mid; else low = mid + 1;
        }
        return low < steps ? scales[low] : 1;
    }

    private static bool Fits(ReadOnlySpan<VmSlot> vms, ReadOnlySpan<int> at, double scale, long roomMb)
    {
        long wantedMb = 0;
        foreach (int i in at) wantedMb += Math.Max(Target(vms[i], scale), vms[i].LowestReachableMb);
        return wantedMb <= roomMb;
    }

    internal static int Target(in VmSlot vm, double scale)
    {
        int targetMb = Headroom(vm, scale);
        if (targetMb <= vm.HighWaterMb) return targetMb;
        // Past the guest's total, hot-add goes no further than Hyper-V's target (demand + buffer) or one rise,
        // whichever is more: the spread of idle memory is for unballooning only. A real guest must be grown
        // before it is full — its demand cannot show more than it has, and a starved guest cannot online
        // memory — so hot-add starts where Hyper-V's does, when the guest is short of its buffer.
        return Math.Max(vm.HighWaterMb, Math.Min(targetMb, Math.Max(Headroom(vm, 1), vm.TargetMb)));
    }

    private static int Headroom(in VmSlot vm, double scale)
    {
        long headroomMb = Math.Max((long)(scale * vm.RiseMb), (long)vm.DemandMb * LeastHeadroomPercent / 100);
        return (int)Math.Clamp(VmSlot.RoundUpToPage(vm.DemandMb + headroomMb), vm.MinimumMb, vm.MaximumMb);
    }
}
