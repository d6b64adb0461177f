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
    [property: Id(11)] BlockSet Blocks,
    [property: Id(12)] string? ParentBackupId,
    [property: Id(13)] long DiskBytes,
    [property: Id(14)] string HostId,
    [property: Id(15)] VmConfig? Config,
    [property: Id(16)] int FailedAttempts,
    /// <summary>A real guest's backup (its agent does the steps), with the state of each of its disks.</summary>
    [property: Id(17)] bool Real = false,
    [property: Id(18)] IReadOnlyList<DiskProgress>? Disks = null,
    /// <summary>The change tracking this backup starts, and the one it copies from (an incremental's parent's).</summary>
    [property: Id(19)] string? Bitmap = null,
    [property: Id(20)] string? ParentBitmap = null,
    /// <summary>Why the backup is less than asked (crash-consistent, a disk copied whole), or null.</summary>
    [property: Id(21)] string? Note = null,
    [property: Id(22)] VmDisks? VmDisks = null)
{
    /// <summary>A VM named by a job that has not taken it yet.</summary>
    public static BackupVmProgress Pending(string vmId, string jobId) =>
        new(vmId, BackupStep.Pending, Consistency.FileSystem, 0, 0, null, BackupIds.Of(vmId, jobId), null, null, null, 0, BlockSet.Empty, null, 0, "", null, 0);
}

/// <summary>One disk of a real guest's backup in progress.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.DiskProgress")]
public sealed record class DiskProgress(
    [property: Id(0)] int Index,
    [property: Id(1)] long SizeBytes,
    [property: Id(2)] bool Incremental,
    [property: Id(3)] long TrackedBytes,
    [property: Id(4)] long DataBytes = 0,
    [property: Id(5)] int Chunks = 0,
    [property: Id(6)] int NextChunk = 0,
    [property: Id(7)] DiskBackup? Committed = null,
    /// <summary>An incremental's extents that became zeros since its parent (ext4's lazy init, discards): recorded in the manifest, not copied.</summary>
    [property: Id(8)] long ZeroBytes = 0);

[GenerateSerializer, Immutable, Alias("HvOrleans.BackupJobInfo")]
public sealed record class BackupJobInfo(
    [property: Id(0)] string JobId,
    [property: Id(1)] JobState State,
    [property: Id(2)] bool Incremental,
    [property: Id(3)] IReadOnlyList<BackupVmProgress> Vms,
    [property: Id(4)] string Silo,
    [property: Id(5)] bool CancelRequested);
