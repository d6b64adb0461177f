using HvOrleans.Backup;
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

/// <summary>One VM's configuration and memory, as its host holds them.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmSnapshot")]
public sealed record class VmSnapshot(
    [property: Id(0)] string VmId,
    [property: Id(1)] string HostId,
    [property: Id(2)] VmConfig Config,
    [property: Id(3)] VmMemory Memory);

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

/// <summary>A VM to create and start on a host, with the demand its guest reports once booted.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmPlacement")]
public sealed record class VmPlacement([property: Id(0)] string VmId, [property: Id(1)] VmConfig Config, [property: Id(2)] int DemandMb);

/// <summary>A guest's report of its committed memory.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmDemand")]
public readonly record struct VmDemand([property: Id(0)] string VmId, [property: Id(1)] int DemandMb);

/// <summary>
/// A physical host and the authority on its VMs' memory: their configuration, lifecycle and
/// Assigned/high-water/demand live in one record per host, so Σ Assigned ≤ memory − reserve is
/// checked in one place and a balancing pass costs at most one write however many VMs it resizes.
/// </summary>
[Alias("HvOrleans.IHostGrain")]
public interface IHostGrain : IGrainWithStringKey
{
    /// <summary>Registers the host. Adding an existing host with the same sizes is a no-op; other sizes are refused.</summary>
    [Alias("Add")] Task<HostInfo> Add(int memoryMb, int reserveMb);

    /// <summary>The host and its ledger. Throws <see cref="HvRuleException"/> (host-must-exist) for an unknown host.</summary>
    [Alias("GetInfo")] Task<HostInfo> GetInfo();

    /// <summary>Places a new, stopped VM on this host. Idempotent for the same configuration.</summary>
    [Alias("CreateVm")] Task<VmInfo> CreateVm(string vmId, VmConfig config);

    [Alias("GetVm")] Task<VmInfo> GetVm(string vmId);

    /// <summary>Changes a VM's configuration within the rules (while running: Startup fixed, Maximum only up, Minimum only down).</summary>
    [Alias("ConfigureVm")] Task<VmInfo> ConfigureVm(string vmId, VmConfigChange change);

    /// <summary>
    /// Boots a VM at Startup, ballooning other VMs toward their floors if the host is short; refused,
    /// changing nothing, if even that cannot make room.
    /// </summary>
    [Alias("StartVm")] Task<VmInfo> StartVm(string vmId);

    /// <summary>Stops a VM; its memory returns to the host and its guest total resets.</summary>
    [Alias("StopVm")] Task<VmInfo> StopVm(string vmId);

    /// <summary>One guest's report, persisted at once (an operator's word counts).</summary>
    [Alias("ReportDemand")] Task<VmInfo> ReportDemand(string vmId, int demandMb);

    /// <summary>
    /// Many guests' reports (the balloon drivers' once-a-second figures) in one message, then up to
    /// <paramref name="maxPasses"/> passes of the named policy until one changes nothing. Demand alone
    /// is not persisted; the host writes once if the passes resized anything.
    /// </summary>
    [Alias("ReportAndBalance")] Task<BalancingReport> ReportAndBalance(IReadOnlyList<VmDemand> demands, string policy, int maxPasses);

    /// <summary>
    /// Creates and boots many VMs, one after another, in one write (the fleet simulator's set-up):
    /// each boot may balloon the VMs already running. Refused whole if any would break a rule.
    /// </summary>
    [Alias("Provision")] Task<HostInfo> Provision(IReadOnlyList<VmPlacement> vms);

    /// <summary>One balancing pass with the named policy (see <see cref="BalancingPolicies"/>).</summary>
    [Alias("Balance")] Task<BalancingReport> Balance(string policy);
}

/// <summary>A VM by its id: where it lives. Every memory operation goes to its host.</summary>
[Alias("HvOrleans.IVmGrain")]
public interface IVmGrain : IGrainWithStringKey
{
    /// <summary>Creates the VM, stopped, on an existing host. Refused if the config breaks a rule or the VM exists elsewhere.</summary>
    [Alias("Create")] Task<VmInfo> Create(string hostId, VmConfig config);

    [Alias("Configure")] Task<VmInfo> Configure(VmConfigChange change);

    /// <summary>The guest's balloon driver reports its committed memory.</summary>
    [Alias("ReportDemand")] Task<VmInfo> ReportDemand(int demandMb);

    [Alias("Start")] Task<VmInfo> Start();

    [Alias("Stop")] Task<VmInfo> Stop();

    [Alias("GetInfo")] Task<VmInfo> GetInfo();

    /// <summary>Whether the guest's VSS daemon runs: without it backups are crash-consistent.</summary>
    [Alias("SetGuestAgent")] Task<DiskInfo> SetGuestAgent(bool running);

    /// <summary>A guest write: buffered (dirty pages) until writeback, held while the file systems are frozen.</summary>
    [Alias("WriteDisk")] Task<DiskInfo> WriteDisk(DiskWrite write);

    /// <summary>The guest syncs: its buffer goes to the disk now.</summary>
    [Alias("FlushDisk")] Task<DiskInfo> FlushDisk();

    [Alias("GetDisk")] Task<DiskInfo> GetDisk();

    /// <summary>SHA-256 of the disk as the guest would read it after a flush.</summary>
    [Alias("DiskSha256")] Task<string> DiskSha256();

    // The backup job's steps on this VM; each is idempotent for the same job.
    [Alias("AcquireBackup")] Task<DiskInfo> AcquireBackup(string jobId);
    [Alias("Freeze")] Task<Consistency> Freeze(string jobId);
    [Alias("Checkpoint")] Task<CheckpointResult> Checkpoint(string jobId);
    [Alias("Thaw")] Task<double?> Thaw(string jobId);
    [Alias("MergeCheckpoint")] Task MergeCheckpoint(string jobId);
    [Alias("ReleaseBackup")] Task ReleaseBackup(string jobId);

    /// <summary>Creates this VM, stopped, as the restore of a backup (its disk already written by the restore).</summary>
    [Alias("CreateRestored")] Task<VmInfo> CreateRestored(string hostId, VmConfig config, long diskBytes, string operationId);
    /// <summary>The operation (a restore) that created this VM, if any.</summary>
    [Alias("CreatedBy")] Task<string?> CreatedBy();
}

/// <summary>
/// Keeps one host balanced (same key as the host): a reminder re-activates it after a silo failure,
/// a grain timer asks the host for a Hyper-V pass every balancing period.
/// </summary>
[Alias("HvOrleans.IHostBalancerGrain")]
public interface IHostBalancerGrain : IGrainWithStringKey
{
    /// <summary>Activates the balancer and registers its reminder.</summary>
    [OneWay, Alias("Wake")] Task Wake();

    /// <summary>Runs one balancing pass now.</summary>
    [Alias("BalanceNow")] Task<BalancingReport> BalanceNow();
}

/// <summary>A diagnostics grain that says which silo it lives on: for measuring failover.</summary>
[Alias("HvOrleans.IProbeGrain")]
public interface IProbeGrain : IGrainWithIntegerKey
{
    [Alias("Where")] Task<string> Where();
}
