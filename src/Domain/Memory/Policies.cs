namespace HvOrleans.Memory;

/// <summary>The balancing policies by name: the production one and its peers, for side-by-side runs.</summary>
public static class BalancingPolicies
{
    public static readonly IReadOnlyList<IBalancingPolicy> All =
        [StaticPolicy.Instance, HyperVPolicy.Instance, SqueezedPolicy.Instance, MomPolicy.Instance, ProxmoxPolicy.Instance, LeanPolicy.Instance];

    public static IBalancingPolicy ByName(string name) =>
        All.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new HvRuleException("policy-known",
            $"Unknown balancing policy '{name}'; known: {string.Join(", ", All.Select(p => p.Name))}.");

    internal static Dictionary<string, int> Each(IEnumerable<BalancingVm> vms, Func<BalancingVm, int> desiredMb) =>
        vms.Where(v => v.IsBalanced).ToDictionary(v => v.VmId, desiredMb);
}

/// <summary>No dynamic memory: every VM keeps what it booted with (Startup). The baseline overcommit must beat.</summary>
public sealed class StaticPolicy : IBalancingPolicy
{
    public static readonly StaticPolicy Instance = new();
    public string Name => "static";

    public IReadOnlyDictionary<string, int> DesiredAssignedMb(int capacityMb, IReadOnlyList<BalancingVm> vms) =>
        BalancingPolicies.Each(vms, v => v.Memory.AssignedMb);
}

/// <summary>
/// XenServer's squeezed: γ = clamp(surplus / Σ(dynamic max − dynamic min), 0, 1) and every VM gets
/// dynamic min + γ·(dynamic max − dynamic min). Demand-blind; Minimum/Maximum are the dynamic range.
/// </summary>
public sealed class SqueezedPolicy : IBalancingPolicy
{
    public static readonly SqueezedPolicy Instance = new();
    public string Name => "squeezed";

    public IReadOnlyDictionary<string, int> DesiredAssignedMb(int capacityMb, IReadOnlyList<BalancingVm> vms)
    {
        var balanced = vms.Where(v => v.IsBalanced).ToList();
        long fixedMb = vms.Where(v => v.Memory.Running && !v.IsBalanced).Sum(v => (long)v.Memory.AssignedMb);
        long surplusMb = capacityMb - fixedMb - balanced.Sum(v => (long)v.Config.MinimumMb);
        long rangeMb = balanced.Sum(v => (long)v.Config.MaximumMb - v.Config.MinimumMb);
        double gamma = rangeMb == 0 ? 0 : Math.Clamp((double)surplusMb / rangeMb, 0, 1);
        return BalancingPolicies.Each(balanced, v =>
            Pages(v.Config.MinimumMb + gamma * (v.Config.MaximumMb - v.Config.MinimumMb)));
    }

    internal static int Pages(double mb) => (int)(mb / VmConfig.PageMb) * VmConfig.PageMb;
}

/// <summary>
/// oVirt MoM's balloon rule: the host is under pressure below 20 % free; then guests with more than
/// 20 % free shrink toward 20 % free, at most 5 % of their memory per step; guests with less than
/// 20 % free grow 5 % per step; changes under 0.25 % are ignored.
/// </summary>
public sealed class MomPolicy : IBalancingPolicy
{
    public static readonly MomPolicy Instance = new();
    public string Name => "mom";
    private const double FreeTarget = 0.20, Step = 0.05, Ignore = 0.0025;

    public IReadOnlyDictionary<string, int> DesiredAssignedMb(int capacityMb, IReadOnlyList<BalancingVm> vms)
    {
        long usedMb = vms.Where(v => v.Memory.Running).Sum(v => (long)v.Memory.AssignedMb);
        bool underPressure = capacityMb - usedMb < FreeTarget * capacityMb;
        return BalancingPolicies.Each(vms, v =>
        {
            int assignedMb = v.Memory.AssignedMb;
            double guestFree = 1 - (double)v.Memory.DemandMb / assignedMb;
            double desired = assignedMb;
            if (guestFree < FreeTarget) desired = assignedMb * (1 + Step);
            else if (underPressure) desired = Math.Max(v.Memory.DemandMb / (1 - FreeTarget), assignedMb * (1 - Step));
            return Math.Abs(desired - assignedMb) < Ignore * assignedMb ? assignedMb
                : Math.Clamp(SqueezedPolicy.Pages(desired), v.Config.MinimumMb, v.Config.MaximumMb);
        });
    }
}

/// <summary>
/// Proxmox auto-ballooning: aims at 80 % host use; below it every VM grows toward Maximum, above it
/// every VM shrinks toward Minimum, at most 100 MB per VM per round, shared by weight (shares).
/// Demand-blind, as Proxmox is: only the guest's own floor protects it.
/// </summary>
public sealed class ProxmoxPolicy : IBalancingPolicy
{
    public static readonly ProxmoxPolicy Instance = new();
    public string Name => "proxmox";
    private const double UseTarget = 0.80;
    private const int StepMb = 100;

    public IReadOnlyDictionary<string, int> DesiredAssignedMb(int capacityMb, IReadOnlyList<BalancingVm> vms)
    {
        var balanced = vms.Where(v => v.IsBalanced).ToList();
        long usedMb = vms.Where(v => v.Memory.Running).Sum(v => (long)v.Memory.AssignedMb);
        long gapMb = (long)(UseTarget * capacityMb) - usedMb;
        if (balanced.Count == 0 || gapMb == 0) return BalancingPolicies.Each(balanced, v => v.Memory.AssignedMb);
        bool grow = gapMb > 0;
        // Heavier shares grow first and shrink last.
        var room = balanced.Select(v => Math.Min(StepMb, grow ? v.Config.MaximumMb - v.Memory.AssignedMb : v.Memory.AssignedMb - v.Config.MinimumMb)).ToArray();
        var weights = balanced.Select(v => grow ? Math.Max(1, v.Config.Weight) : VmConfig.HighestWeight + 1 - v.Config.Weight).ToArray();
        var moves = WeightedShare.Distribute(Math.Abs(gapMb), room.Select(r => Math.Max(0, r) / VmConfig.PageMb * VmConfig.PageMb).ToArray(), weights);
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
public sealed class LeanPolicy : IBalancingPolicy
{
    public static readonly LeanPolicy Instance = new();
    public string Name => "lean";

    public IReadOnlyDictionary<string, int> DesiredAssignedMb(int capacityMb, IReadOnlyList<BalancingVm> vms) =>
        HyperVPolicy.Share(capacityMb, vms, LeanTarget);

    private static int LeanTarget(BalancingVm v)
    {
        int targetMb = v.Memory.TargetMb(v.Config);
        return targetMb <= v.Memory.HighWaterMb ? targetMb : Math.Max(v.Memory.HighWaterMb, v.Memory.DemandLevelMb(v.Config));
    }
}
