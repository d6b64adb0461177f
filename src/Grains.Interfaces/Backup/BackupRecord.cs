namespace HvOrleans.Backup;

/// <summary>
/// A finished backup of one VM's disk, with the VM's configuration and host when it was taken, so a
/// restore needs nothing of the source VM. Incremental ones hold only <see cref="Blocks"/>, on top of
/// their parent; a full one (<see cref="Blocks"/> null) holds every block of the disk.
/// </summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.BackupRecord")]
public sealed record class BackupRecord(
    [property: Id(0)] string BackupId,
    [property: Id(1)] string VmId,
    [property: Id(2)] string JobId,
    [property: Id(3)] DateTime CreatedUtc,
    [property: Id(4)] Consistency Consistency,
    [property: Id(5)] string? ParentBackupId,
    [property: Id(6)] long DiskBytes,
    [property: Id(7)] BlockSet? Blocks,
    [property: Id(8)] long StoredBytes,
    [property: Id(9)] string Sha256,
    [property: Id(10)] string HostId,
    [property: Id(11)] VmConfig Config,
    /// <summary>A real VM's backup: each data disk's manifest and data on backup media (null for a modelled VM's).</summary>
    [property: Id(12)] IReadOnlyList<DiskBackup>? Disks = null,
    [property: Id(13)] VmDisks? VmDisks = null,
    /// <summary>The change tracking this backup started on the guest: the next incremental copies what it marked.</summary>
    [property: Id(14)] string? Bitmap = null,
    [property: Id(15)] string? Note = null)
{
    public bool Real => Disks is not null;
}

/// <summary>A restore's answer: the new VM, and for a real VM each disk as written (image SHA-256, file-system check).</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.RestoreReport")]
public sealed record class RestoreReport([property: Id(0)] VmInfo Vm, [property: Id(1)] IReadOnlyList<RestoredDisk> Disks);

[GenerateSerializer, Immutable, Alias("HvOrleans.VerifyResult")]
public sealed record class VerifyResult([property: Id(0)] string BackupId, [property: Id(1)] bool Ok, [property: Id(2)] string Expected, [property: Id(3)] string Actual);
