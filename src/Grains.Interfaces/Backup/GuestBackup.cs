namespace HvOrleans.Backup;

/// <summary>
/// What a backup job asks of a real VM's agent at its first step: freeze the guest's file systems,
/// start a point-in-time copy of every data disk with one QMP transaction (which also starts the
/// change tracking for the next backup), thaw. <paramref name="ParentBitmap"/> is the change tracking
/// the last committed backup started: given, each disk that still has it is copied incrementally.
/// </summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.GuestCaptureRequest")]
public sealed record class GuestCaptureRequest(
    [property: Id(0)] string JobId,
    [property: Id(1)] string? ParentBitmap,
    [property: Id(2)] TimeSpan FreezeTimeout);

/// <summary>One data disk as a capture took it.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.CapturedDisk")]
public sealed record class CapturedDisk(
    [property: Id(0)] int Index,
    [property: Id(1)] long SizeBytes,
    [property: Id(2)] bool Incremental,
    /// <summary>Bytes the parent's change tracking marked dirty (what an incremental copies at most); the disk's size for a full copy.</summary>
    [property: Id(3)] long TrackedBytes);

[GenerateSerializer, Immutable, Alias("HvOrleans.GuestCapture")]
public sealed record class GuestCapture(
    [property: Id(0)] Consistency Consistency,
    [property: Id(1)] double FreezeWindowMs,
    /// <summary>The change tracking this capture started: the next incremental's parent bitmap.</summary>
    [property: Id(2)] string Bitmap,
    [property: Id(3)] IReadOnlyList<CapturedDisk> Disks,
    /// <summary>Why the backup is less than asked (no guest agent; change tracking lost, so a disk is copied whole), or null.</summary>
    [property: Id(4)] string? Note);

/// <summary>The point-in-time copies of a capture: still being made (<see cref="Ready"/> false), or made and mapped.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.PointInTime")]
public sealed record class PointInTime(
    [property: Id(0)] bool Ready,
    [property: Id(1)] long BytesDone,
    [property: Id(2)] long BytesTotal,
    /// <summary>Per disk: the bytes of data to upload (allocated clusters only) and the chunks they make.</summary>
    [property: Id(3)] IReadOnlyList<MappedDisk> Disks);

/// <summary>A disk's point-in-time copy, mapped: data to upload, and (an incremental's) extents that became zeros, recorded but not copied.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.MappedDisk")]
public sealed record class MappedDisk([property: Id(0)] int Index, [property: Id(1)] long DataBytes, [property: Id(2)] int Chunks, [property: Id(3)] int Extents, [property: Id(4)] long ZeroBytes);

/// <summary>Upload chunks [<paramref name="FirstChunk"/>, +<paramref name="Count"/>) of a disk's data as staged blocks of <paramref name="Data"/> (a SAS URI).</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.ChunkUpload")]
public sealed record class ChunkUpload(
    [property: Id(0)] string JobId,
    [property: Id(1)] int Disk,
    [property: Id(2)] int FirstChunk,
    [property: Id(3)] int Count,
    [property: Id(4)] Uri Data);

/// <summary>Commit a disk's staged blocks and write its manifest (both SAS URIs).</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.DiskCommit")]
public sealed record class DiskCommit(
    [property: Id(0)] string JobId,
    [property: Id(1)] string BackupId,
    [property: Id(2)] int Disk,
    [property: Id(3)] Uri Data,
    [property: Id(4)] Uri Manifest);

/// <summary>One disk of a real VM's backup, as the catalog records it.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.DiskBackup")]
public sealed record class DiskBackup(
    [property: Id(0)] int Index,
    [property: Id(1)] long SizeBytes,
    [property: Id(2)] bool Incremental,
    [property: Id(3)] long DataBytes,
    [property: Id(4)] int Chunks,
    [property: Id(5)] string ManifestSha256,
    [property: Id(6)] long TrackedBytes);

/// <summary>One backup's layer of a disk being restored: its manifest (with the SHA-256 the catalog recorded) and its data.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.RestoreLayer")]
public sealed record class RestoreLayer(
    [property: Id(0)] string BackupId,
    [property: Id(1)] Uri Manifest,
    [property: Id(2)] string ManifestSha256,
    [property: Id(3)] Uri Data);

[GenerateSerializer, Immutable, Alias("HvOrleans.DiskRestore")]
public sealed record class DiskRestore(
    [property: Id(0)] int Index,
    [property: Id(1)] long SizeBytes,
    /// <summary>Oldest first, starting with the newest full copy of this disk.</summary>
    [property: Id(2)] IReadOnlyList<RestoreLayer> Layers);

[GenerateSerializer, Immutable, Alias("HvOrleans.RestoredDisk")]
public sealed record class RestoredDisk(
    [property: Id(0)] int Index,
    [property: Id(1)] long SizeBytes,
    /// <summary>SHA-256 of the whole restored image, as the guest will read its block device.</summary>
    [property: Id(2)] string ImageSha256,
    /// <summary>What <c>e2fsck -fn</c> said of an ext4 image ("clean: …"), or "not ext4".</summary>
    [property: Id(3)] string FileSystemCheck,
    [property: Id(4)] long BytesRead);

/// <summary>
/// A disk backup's manifest, a JSON blob beside its data: the extents the point-in-time copy held, in
/// disk order, and the SHA-256 of each 4 MiB chunk of the data stream (the data extents' bytes, one
/// after another). A full copy lists its data extents; an incremental one also the extents that
/// became zero, which a restore must zero over the older layers.
/// </summary>
public sealed record class DiskManifest(
    string BackupId,
    int Disk,
    long SizeBytes,
    bool Incremental,
    IReadOnlyList<ManifestExtent> Extents,
    IReadOnlyList<string> ChunkSha256)
{
    public const int ChunkBytes = BackupSteps.BlockBytes;

    private static readonly System.Text.Json.JsonSerializerOptions Json = new(System.Text.Json.JsonSerializerDefaults.Web);

    /// <summary>The manifest as stored on backup media (its SHA-256 is what the catalog records).</summary>
    public byte[] ToUtf8Json() => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(this, Json);

    public static DiskManifest Parse(byte[] utf8Json) =>
        System.Text.Json.JsonSerializer.Deserialize<DiskManifest>(utf8Json, Json) ?? throw new System.Text.Json.JsonException("An empty disk manifest.");

    public long DataBytes => Extents.Where(e => e.Data).Sum(e => e.Length);

    public static int ChunkCount(long dataBytes) => (int)((dataBytes + ChunkBytes - 1) / ChunkBytes);
}

public sealed record class ManifestExtent(long Start, long Length, bool Data);
