namespace HvOrleans.Backup;

/// <summary>One VM's part of a backup job.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.BackupVmProgress")]
public sealed record class BackupVmProgress(
    [property: Id(0)] string VmId,
    [property: Id(1)] BackupStep Step,
    [property: Id(2)] Consistency Consistency,
    [property: Id(3)] long BytesCopied,
    [property: Id(4)] long BytesTotal,
    [property: Id(5)] double? FreezeWindowMs,
    [property: Id(6)] string BackupId,
    [property: Id(7)] string? Sha256,
    [property: Id(8)] string? Error,
    [property: Id(9)] string? SnapshotId,
    [property: Id(10)] int NextBlock,
    [property: Id(11)] IReadOnlyList<int> Blocks,
    [property: Id(12)] string? ParentBackupId,
    [property: Id(13)] long DiskBytes);

[GenerateSerializer, Immutable, Alias("HvOrleans.BackupJobInfo")]
public sealed record class BackupJobInfo(
    [property: Id(0)] string JobId,
    [property: Id(1)] JobState State,
    [property: Id(2)] bool Incremental,
    [property: Id(3)] IReadOnlyList<BackupVmProgress> Vms,
    [property: Id(4)] string Silo);

/// <summary>A finished backup of one VM's disk. Incremental ones hold only <see cref="Blocks"/>, on top of their parent.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.BackupRecord")]
public sealed record class BackupRecord(
    [property: Id(0)] string BackupId,
    [property: Id(1)] string VmId,
    [property: Id(2)] string JobId,
    [property: Id(3)] DateTime CreatedUtc,
    [property: Id(4)] Consistency Consistency,
    [property: Id(5)] string? ParentBackupId,
    [property: Id(6)] long DiskBytes,
    [property: Id(7)] IReadOnlyList<int>? Blocks,
    [property: Id(8)] long StoredBytes,
    [property: Id(9)] string Sha256);

[GenerateSerializer, Immutable, Alias("HvOrleans.VerifyResult")]
public sealed record class VerifyResult([property: Id(0)] string BackupId, [property: Id(1)] bool Ok, [property: Id(2)] string Expected, [property: Id(3)] string Actual);

/// <summary>A VM's disk as the guest sees it.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.DiskInfo")]
public sealed record class DiskInfo(
    [property: Id(0)] string VmId,
    [property: Id(1)] long SizeBytes,
    [property: Id(2)] bool GuestAgent,
    [property: Id(3)] int BufferedWrites,
    [property: Id(4)] bool Frozen,
    [property: Id(5)] bool Checkpointed,
    [property: Id(6)] string? BackupJob);

/// <summary>What the checkpoint step captured: the blocks changed since the last backup, and whether the freeze still held.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.CheckpointResult")]
public sealed record class CheckpointResult([property: Id(0)] IReadOnlyList<int> ChangedBlocks, [property: Id(1)] bool FreezeHeld, [property: Id(2)] long DiskBytes);

/// <summary>One backup job: freeze, checkpoint, thaw, snapshot, copy, cleanup for each VM, durably.</summary>
[Alias("HvOrleans.IBackupJobGrain")]
public interface IBackupJobGrain : IGrainWithStringKey
{
    /// <summary>Starts the job. Refused, changing nothing, for an empty or repeated VM list, an unknown VM, or a VM already being backed up.</summary>
    [Alias("Start")] Task<BackupJobInfo> Start(IReadOnlyList<string> vmIds, bool incremental);

    /// <summary>The job's progress. Refused (backup-job-must-exist) for an unknown job. Answers while the job works.</summary>
    [AlwaysInterleave, Alias("GetInfo")] Task<BackupJobInfo> GetInfo();
}

/// <summary>Every finished backup: listing, verification and restore.</summary>
[Alias("HvOrleans.IBackupCatalogGrain")]
public interface IBackupCatalogGrain : IGrainWithIntegerKey
{
    [Alias("Add")] Task Add(BackupRecord record);
    [Alias("Get")] Task<BackupRecord> Get(string backupId);
    [Alias("List")] Task<IReadOnlyList<BackupRecord>> List(string? vmId);
    [Alias("Latest")] Task<BackupRecord?> Latest(string vmId);

    /// <summary>Re-reads the backup (and its parents) and compares the image's SHA-256 with the one recorded.</summary>
    [Alias("Verify")] Task<VerifyResult> Verify(string backupId);

    /// <summary>Creates <paramref name="newVmId"/>, stopped, on the source VM's host with its configuration and the backup's disk.</summary>
    /// <summary>Restores into a new VM. Repeating it with the same <paramref name="operationId"/> returns the VM it made.</summary>
    [Alias("Restore")] Task<VmInfo> Restore(string backupId, string newVmId, string operationId);
}
