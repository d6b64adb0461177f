namespace HvOrleans.Grains;

/// <summary>
/// One VM as its host holds it. <see cref="BootId"/> counts its starts, so that a real guest's agent
/// can tell this boot from the last; <see cref="CrashReason"/> says why its process ended unasked;
/// <see cref="BackupJob"/> is the live backup that holds a real VM (one at a time).
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("HvOrleans.HostedVm")]
public sealed record class HostedVm(
    [property: Id(0)] VmConfig Config,
    [property: Id(1)] VmMemory Memory,
    [property: Id(2)] long BootId = 0,
    [property: Id(3)] string? CrashReason = null,
    [property: Id(5)] VmDisks? Disks = null,
    [property: Id(6)] string? BackupJob = null)
{
    /// <summary>A VM's data disks (one of 1 GB unless it was created with others).</summary>
    public VmDisks DataDisks => Disks ?? VmDisks.Default;
}

// Immutable: every change makes a new record (with), so a copy-on-write store (Hv:Storage=Memory) may keep
// the grain's own instance instead of deep-copying its VM dictionary on every write.
[GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("HvOrleans.HostState")]
public sealed record class HostState(
    [property: Id(0)] int MemoryMb,
    [property: Id(1)] int ReserveMb,
    [property: Id(2)] HostedVms Vms,
    [property: Id(3)] HostDriver Driver = HostDriver.Model,
    [property: Id(4)] string? Accel = null,
    [property: Id(5)] string? Policy = null)
{
    public HostState() : this(0, 0, HostedVms.Empty) { }

    public bool Exists => MemoryMb > 0;

    /// <summary>The balancer's policy for this host (<c>hv host set --policy</c>), or the cluster's default (<see cref="BalancerOptions.DefaultPolicy"/>).</summary>
    public string PolicyName(string defaultPolicy) => Policy ?? BalancingPolicies.ByName(defaultPolicy).Name;
    public int CapacityMb => MemoryMb - ReserveMb;
    public long AssignedMb
    {
        get
        {
            long assignedMb = 0;
            for (int i = 0; i < Vms.Count; i++) assignedMb += Vms.MemoryAt(i).AssignedMb;
            return assignedMb;
        }
    }

    public HostState WithMemory(string vmId, VmMemory memory) => this with { Vms = Vms.SetItem(vmId, Vms[vmId] with { Memory = memory }) };

    public HostState WithMemories(IEnumerable<VmResize> resizes) =>
        this with { Vms = Vms.SetItems(resizes.Select(r => KeyValuePair.Create(r.VmId, Vms[r.VmId] with { Memory = r.After }))) };

    public List<BalancingVm> Balancing() => Vms.Select(e => new BalancingVm(e.Key, e.Value.Config, e.Value.Memory)).ToList();
}
