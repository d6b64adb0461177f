using HvOrleans.Memory;

namespace HvOrleans;

/// <summary>A host as the operator sees it. Sizes in MB.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.HostInfo")]
public sealed record class HostInfo(
    [property: Id(0)] string HostId,
    [property: Id(1)] int MemoryMb,
    [property: Id(2)] int ReserveMb,
    [property: Id(3)] IReadOnlyDictionary<string, int> AssignedMbByVm)
{
    public long AssignedMb => AssignedMbByVm.Values.Sum(v => (long)v);
    public int CapacityMb => MemoryMb - ReserveMb;
    public long AvailableMb => CapacityMb - AssignedMb;
}

/// <summary>
/// One VM's authoritative state as its grain holds it. <see cref="Version"/> grows with every
/// persisted change, so a reader holding two snapshots keeps the newer.
/// </summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmSnapshot")]
public sealed record class VmSnapshot(
    [property: Id(0)] string VmId,
    [property: Id(1)] string HostId,
    [property: Id(2)] long Version,
    [property: Id(3)] VmConfig Config,
    [property: Id(4)] VmMemory Memory)
{
    public BalancingVm ToBalancing() => new(VmId, Config, Memory);
}

/// <summary>A VM with both views of its memory.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmInfo")]
public sealed record class VmInfo(
    [property: Id(0)] VmSnapshot Snapshot,
    [property: Id(1)] HostMemoryView HostView,
    [property: Id(2)] GuestMemoryView GuestView)
{
    public static VmInfo Of(VmSnapshot s) =>
        new(s, HostMemoryView.Of(s.Config, s.Memory), GuestMemoryView.Of(s.Memory));
}

/// <summary>A configuration change: only the given values change.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmConfigChange")]
public sealed record class VmConfigChange(
    [property: Id(0)] int? StartupMb = null,
    [property: Id(1)] int? MinimumMb = null,
    [property: Id(2)] int? MaximumMb = null,
    [property: Id(3)] int? BufferPercent = null,
    [property: Id(4)] int? Weight = null)
{
    public VmConfig ApplyTo(VmConfig c) => new(StartupMb ?? c.StartupMb, MinimumMb ?? c.MinimumMb,
        MaximumMb ?? c.MaximumMb, BufferPercent ?? c.BufferPercent, Weight ?? c.Weight);
}

/// <summary>What one balancing pass did on one host.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.BalancingReport")]
public sealed record class BalancingReport(
    [property: Id(0)] string HostId,
    [property: Id(1)] int CapacityMb,
    [property: Id(2)] long AssignedMb,
    [property: Id(3)] IReadOnlyList<VmResize> Resizes);

/// <summary>A physical host: its memory, the reserve kept for itself, and the ledger of what its VMs hold.</summary>
[Alias("HvOrleans.IHostGrain")]
public interface IHostGrain : IGrainWithStringKey
{
    /// <summary>Registers the host. Adding an existing host with the same sizes is a no-op; other sizes are refused.</summary>
    [Alias("Add")] Task<HostInfo> Add(int memoryMb, int reserveMb);

    /// <summary>The host and its ledger. Throws <see cref="HvRuleException"/> (host-must-exist) for an unknown host.</summary>
    [Alias("GetInfo")] Task<HostInfo> GetInfo();

    /// <summary>Adds a (stopped) VM to the ledger. Idempotent.</summary>
    [Alias("AddVm")] Task<HostInfo> AddVm(string vmId);

    /// <summary>
    /// Sets ledger entries (called by the host's balancer only). Refused, with nothing persisted,
    /// if the result would assign more than memory − reserve.
    /// </summary>
    [Alias("SetAssignments")] Task<HostInfo> SetAssignments(IReadOnlyDictionary<string, int> assignedMbByVm);
}

/// <summary>A VM: the authority on its configuration, lifecycle and memory.</summary>
[Alias("HvOrleans.IVmGrain")]
public interface IVmGrain : IGrainWithStringKey
{
    /// <summary>Creates the VM, stopped, on an existing host. Refused if the config breaks a rule or the VM exists.</summary>
    [Alias("Create")] Task<VmInfo> Create(string hostId, VmConfig config);

    /// <summary>Changes the configuration within the rules (while running: Startup fixed, Maximum only up, Minimum only down).</summary>
    [Alias("Configure")] Task<VmInfo> Configure(VmConfigChange change);

    /// <summary>The guest's balloon driver reports its committed memory.</summary>
    [Alias("ReportDemand")] Task<VmInfo> ReportDemand(int demandMb);

    /// <summary>Stops the VM; its memory goes back to the host and its guest total resets.</summary>
    [Alias("Stop")] Task<VmInfo> Stop();

    [Alias("GetInfo")] Task<VmInfo> GetInfo();

    /// <summary>For the host's balancer: the VM's current state.</summary>
    [Alias("GetSnapshot")] Task<VmSnapshot> GetSnapshot();

    /// <summary>For the host's balancer, once it has reserved Startup on the ledger: boot the VM.</summary>
    [Alias("Boot")] Task<VmSnapshot> Boot();

    /// <summary>For the host's balancer: move Assigned toward the target, never above the ceiling it reserved.</summary>
    [Alias("Resize")] Task<VmSnapshot> Resize(int targetMb, int ceilingMb);
}

/// <summary>
/// Decides memory for one host's VMs (same key as the host). Kept alive by a reminder; a timer runs
/// a pass every balancing period. Calls go one way — balancer to host and VMs — and VMs tell the
/// balancer of changes by one-way messages, so no call cycle can deadlock.
/// </summary>
[Alias("HvOrleans.IHostBalancerGrain")]
public interface IHostBalancerGrain : IGrainWithStringKey
{
    /// <summary>Activates the balancer and registers its reminder.</summary>
    [OneWay, Alias("Wake")] Task Wake();

    /// <summary>A VM of this host changed (config, demand, lifecycle).</summary>
    [OneWay, Alias("VmChanged")] Task VmChanged(VmSnapshot snapshot);

    /// <summary>
    /// Starts a VM: reserves Startup on the ledger, ballooning other VMs toward their floors if the
    /// host is short, and refuses (changing nothing) if even that cannot make room.
    /// </summary>
    [Alias("StartVm")] Task<VmInfo> StartVm(string vmId);

    /// <summary>Re-reads every VM of the host and runs one balancing pass now.</summary>
    [Alias("BalanceNow")] Task<BalancingReport> BalanceNow();
}
