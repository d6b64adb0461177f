namespace HvOrleans;

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

    /// <summary>Places a new, stopped VM on this host. Idempotent for the same configuration. <paramref name="disks"/>: a real VM's data disks (default one of 1 GB).</summary>
    [Alias("CreateVm")] Task<VmInfo> CreateVm(string vmId, VmConfig config, VmDisks? disks = null);

    [Alias("GetVm")] Task<VmInfo> GetVm(string vmId);

    /// <summary>Every VM of the host with both views of its memory, in VmId order: one call for a live view of the host.</summary>
    [Alias("GetVms")] Task<IReadOnlyList<VmInfo>> GetVms();

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
    /// The host's guests' once-a-second reports, in one message. Held in memory and persisted with the
    /// next decision that changes memory, not per report: a silo that dies loses at most the reports
    /// since, which the guests send again within a second. Refused whole if one names an unknown or stopped VM.
    /// The list is not copied for a call within the silo ([Immutable]): a caller does not change it once sent.
    /// </summary>
    [Alias("ReportDemands")] Task ReportDemands([Immutable] IReadOnlyList<VmDemand> demands);

    /// <summary>
    /// Many guests' reports (the balloon drivers' once-a-second figures) in one message, then up to
    /// <paramref name="maxPasses"/> passes of the named policy until one changes nothing. The host writes
    /// once if the passes resized anything, and that write carries the resized VMs (their reports with
    /// them); the other VMs' reports are held in memory, as volatile as reports are, and every read sees
    /// them. All or none: a batch that names an unknown or stopped VM, or a bad figure, is refused whole.
    /// </summary>
    [Alias("ReportAndBalance")] Task<BatchBalancing> ReportAndBalance([Immutable] DemandBatch demands, string policy, int maxPasses);

    /// <summary>
    /// Creates and boots many VMs, one after another, in one write (the fleet simulator's set-up):
    /// each boot may balloon the VMs already running. Refused whole if any would break a rule.
    /// </summary>
    [Alias("Provision")] Task<HostInfo> Provision(IReadOnlyList<VmPlacement> vms);

    /// <summary>
    /// An <c>hv-agent</c> takes charge of this host: adds it (driver qemu) if it is new; refused if it
    /// exists with other sizes or is a modelled host. The accelerator it found is recorded.
    /// </summary>
    [Alias("RegisterAgent")] Task<HostInfo> RegisterAgent(AgentRegistration registration);

    /// <summary>
    /// The agent's once-a-second message: its guests' figures in, what to run out. Demand is derived
    /// from the guests' own statistics and held in memory like <see cref="ReportDemands"/>; a crash is
    /// persisted (the VM stops, its memory returns to the host).
    /// </summary>
    [Alias("SyncGuests")] Task<HostPlan> SyncGuests(HostSync sync);

    /// <summary>Runs a command in a real guest through the host's agent. Interleaves: it reads nothing it could tear.</summary>
    [AlwaysInterleave, ResponseTimeout("00:00:35"), Alias("ExecInGuest")] Task<GuestExecResult> ExecInGuest(string vmId, IReadOnlyList<string> argv, TimeSpan timeout);

    /// <summary>
    /// Removes a stopped real VM from the host, its run folder and disks with it (through the agent).
    /// Refused while it runs or a backup holds it. Its backups stay in its catalog. Idempotent.
    /// </summary>
    [Alias("DeleteVm")] Task DeleteVm(string vmId);

    /// <summary>
    /// A live backup takes a real, running VM (one job at a time; idempotent for the same job) and
    /// learns its disks. While held, the VM cannot be stopped: its point-in-time copy lives in its QEMU process.
    /// </summary>
    [Alias("AcquireBackup")] Task<VmDisks> AcquireBackup(string vmId, string jobId);

    /// <summary>Lets the VM go (a no-op unless <paramref name="jobId"/> holds it).</summary>
    [Alias("ReleaseBackup")] Task ReleaseBackup(string vmId, string jobId);

    /// <summary>The host's agent, when it has synced lately; null otherwise (a caller waits and tries again).</summary>
    [AlwaysInterleave, Alias("GetAgent")] Task<IHostAgent?> GetAgent();

    /// <summary>One balancing pass with the named policy (see <see cref="BalancingPolicies"/>).</summary>
    [Alias("Balance")] Task<BalancingReport> Balance(string policy);

    /// <summary>One pass of the host's own policy (<see cref="SetPolicy"/>; Hyper-V's by default): what its balancer runs.</summary>
    [Alias("BalanceByItsPolicy")] Task<BalancingReport> BalanceByItsPolicy();

    /// <summary>The policy the host's balancer runs from now on; refused (policy-known) for a name no policy has.</summary>
    [Alias("SetPolicy")] Task<HostInfo> SetPolicy(string policy);
}
