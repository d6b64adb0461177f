namespace HvOrleans;

/// <summary>
/// A VM's directory entry: which host it lives on, and which operation created it. Every memory
/// operation goes to its host, the authority on the VM's configuration and memory; its disk is
/// <see cref="IGuestDiskGrain"/>.
/// </summary>
[Alias("HvOrleans.IVmGrain")]
public interface IVmGrain : IGrainWithStringKey
{
    /// <summary>Creates the VM, stopped, on an existing host. Refused if the config breaks a rule or the VM exists elsewhere. <paramref name="disks"/>: a real VM's data disks.</summary>
    [Alias("Create")] Task<VmInfo> Create(string hostId, VmConfig config, VmDisks? disks = null);

    [Alias("Configure")] Task<VmInfo> Configure(VmConfigChange change);

    /// <summary>The guest's balloon driver reports its committed memory.</summary>
    [Alias("ReportDemand")] Task<VmInfo> ReportDemand(int demandMb);

    [Alias("Start")] Task<VmInfo> Start();

    /// <summary>Deletes a stopped VM (its host forgets it; a real VM's disks go with it). Its backups stay. Idempotent.</summary>
    [Alias("Delete")] Task Delete();

    [Alias("Stop")] Task<VmInfo> Stop();

    [Alias("GetInfo")] Task<VmInfo> GetInfo();

    /// <summary>The VM's host. Refused (vm-must-exist) for an unknown VM.</summary>
    [Alias("GetHostId")] Task<string> GetHostId();

    /// <summary>
    /// Creates this VM, stopped, as the restore of a backup whose disk the restore has already
    /// written. Repeated with the same <paramref name="operationId"/>, it returns the VM it made.
    /// A real VM's restore (<paramref name="disks"/> given) has its disks on its host's agent: there is no modelled disk to adopt.
    /// </summary>
    [Alias("CreateRestored")] Task<VmInfo> CreateRestored(string hostId, VmConfig config, long diskBytes, string operationId, VmDisks? disks = null);

    /// <summary>The operation (a restore) that created this VM, if any.</summary>
    [Alias("CreatedBy")] Task<string?> CreatedBy();
}
