namespace HvOrleans;

/// <summary>
/// A VM's guest disk (same key as the VM): the guest's buffer, freeze, checkpoint and change
/// tracking, and the page blob that holds the bytes. The authority on everything a backup needs of a
/// VM; the VM must exist (<see cref="IVmGrain"/>) before its disk is first used.
/// </summary>
[Alias("HvOrleans.IGuestDiskGrain")]
public interface IGuestDiskGrain : IGrainWithStringKey
{
    /// <summary>Whether the guest's VSS daemon runs: without it backups are crash-consistent.</summary>
    [Alias("SetGuestAgent")] Task<DiskInfo> SetGuestAgent(bool running);

    /// <summary>A guest write: buffered (dirty pages) until writeback, held while the file systems are frozen.</summary>
    [Alias("Write")] Task<DiskInfo> Write(DiskWrite write);

    /// <summary>The guest syncs: its buffer goes to the disk now. Refused (vm-must-be-running) for a stopped VM, as is a write.</summary>
    [Alias("Flush")] Task<DiskInfo> Flush();

    /// <summary>The guest shut down (its VM stopped): it synced its file systems on the way.</summary>
    [Alias("ShutDown")] Task ShutDown();

    [Alias("GetInfo")] Task<DiskInfo> GetInfo();

    /// <summary>SHA-256 of the disk as the guest would read it after a flush.</summary>
    [Alias("Sha256")] Task<string> Sha256();

    /// <summary>Takes over a disk a restore wrote (its blob exists, <paramref name="sizeBytes"/> long). Idempotent.</summary>
    [Alias("Adopt")] Task<DiskInfo> Adopt(long sizeBytes);

    // The backup job's steps on this disk; each is idempotent for the same job.
    [Alias("AcquireBackup")] Task<DiskInfo> AcquireBackup(string jobId);
    [Alias("Freeze")] Task<Consistency> Freeze(string jobId);
    [Alias("Checkpoint")] Task<CheckpointResult> Checkpoint(string jobId);
    [Alias("Thaw")] Task<double?> Thaw(string jobId);
    [Alias("MergeCheckpoint")] Task MergeCheckpoint(string jobId);
    /// <summary>Thaws, merges and lets the job go; unless the backup was <paramref name="committed"/>, what it captured is tracked again.</summary>
    [Alias("ReleaseBackup")] Task ReleaseBackup(string jobId, bool committed);
}
