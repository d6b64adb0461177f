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
    /// Sets <see cref="BalancingHost.DesiredMb"/> of each balanced VM of <paramref name="host"/>: the
    /// Assigned it should move toward. <paramref name="capacityMb"/> is what the host can give all its
    /// VMs (physical − reserve); unbalanced VMs keep their Assigned, whatever is written for them.
    /// </summary>
    void Desire(BalancingHost host, int capacityMb);

    /// <summary>The same decision for VMs given as records, in the order given: balanced VM id → desired MB.</summary>
    IReadOnlyDictionary<string, int> DesiredAssignedMb(int capacityMb, IReadOnlyList<BalancingVm> vms);
}

/// <summary>A policy's decision written once, over a <see cref="BalancingHost"/>; the record form derived from it.</summary>
public abstract class BalancingPolicy : IBalancingPolicy
{
    public abstract string Name { get; }

    public abstract void Desire(BalancingHost host, int capacityMb);

    public IReadOnlyDictionary<string, int> DesiredAssignedMb(int capacityMb, IReadOnlyList<BalancingVm> vms)
    {
        var host = BalancingHost.Of(vms, sortById: false);
        Desire(host, capacityMb);
        var desired = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < host.Count; i++)
            if (host.Vms[i].IsBalanced) desired[host.VmIds[i]] = host.DesiredMb[i];
        return desired;
    }
}

/// <summary>
/// Turns a policy's wishes into what the VMs really get: shrinks first (so the host never
/// over-commits in between), then grows, highest weight first, each capped by what is free.
/// The work is <see cref="BalancingHost"/>'s; these are its forms over records.
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
        var host = BalancingHost.Of(vms, sortById: true);
        return host.Resizes(host.Converge(policy, capacityMb, maxPasses));
    }

    public static IReadOnlyList<VmResize> Run(IBalancingPolicy policy, int capacityMb, IReadOnlyList<BalancingVm> vms) =>
        Converge(policy, capacityMb, vms, maxPasses: 1);

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

/// <summary>A VM to create and start on a host, with the demand its guest reports once booted.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmPlacement")]
public sealed record class VmPlacement([property: Id(0)] string VmId, [property: Id(1)] VmConfig Config, [property: Id(2)] int DemandMb);
