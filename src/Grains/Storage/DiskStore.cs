using System.Security.Cryptography;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Sas;
using HvOrleans.Backup;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace HvOrleans.Grains.Storage;

/// <summary>
/// Virtual disks and backup media in Azure Blob storage (Azurite locally): a disk is a page blob,
/// a backup point is a blob snapshot, backup media are block blobs written by staged blocks with
/// ids fixed by block index (so a resumed copy re-stages over itself). Blob names start with the
/// ServiceId, so clusters sharing an account never see each other's disks.
/// </summary>
public sealed class DiskStore(BlobServiceClient? blobs, IOptions<ClusterOptions> cluster, IOptions<BackupOptions> options)
{
    private const string DiskContainer = "hv-disks", BackupContainer = "hv-backups", JobMetadata = "hvjob";
    private readonly string _prefix = cluster.Value.ServiceId;
    private volatile bool _containersReady;

    private BlobServiceClient Blobs => blobs ?? throw new HvRuleException("disks-need-azure-storage",
        "Virtual disks and backups live in Azure Blob storage: configure Hv:ConnectionString.");

    public PageBlobClient Disk(string vmId) => Blobs.GetBlobContainerClient(DiskContainer).GetPageBlobClient($"{_prefix}/{vmId}.vhd");
    public BlockBlobClient Backup(string backupId) => Blobs.GetBlobContainerClient(BackupContainer).GetBlockBlobClient($"{_prefix}/{backupId}");

    /// <summary>A real VM's backup of one data disk: its data (staged blocks, one per 4 MiB chunk) and its manifest.</summary>
    public BlockBlobClient GuestData(string backupId, int disk) => Blobs.GetBlobContainerClient(BackupContainer).GetBlockBlobClient($"{_prefix}/{backupId}.disk{disk}");
    public BlobClient GuestManifest(string backupId, int disk) => Blobs.GetBlobContainerClient(BackupContainer).GetBlobClient($"{_prefix}/{backupId}.disk{disk}.manifest.json");

    /// <summary>
    /// A URI that lets an agent write (or read) this one blob for a while, so agents need no account
    /// key: the cluster hands out what each step needs.
    /// </summary>
    public async Task<Uri> SasAsync(BlobBaseClient blob, BlobSasPermissions permissions, TimeSpan lifetime)
    {
        await EnsureContainersAsync();
        Rule.Require(blob.CanGenerateSasUri, "storage-shared-key", "Real VMs' backups hand agents SAS URIs: Hv:ConnectionString must carry the account key.");
        return blob.GenerateSasUri(permissions, DateTimeOffset.UtcNow + lifetime);
    }

    /// <summary>Re-reads a real VM's disk backup: its manifest against the recorded SHA-256, and every chunk against the manifest; null when all match.</summary>
    public async Task<string?> VerifyGuestDiskAsync(string backupId, DiskBackup disk)
    {
        byte[] manifestBytes;
        try { manifestBytes = (await GuestManifest(backupId, disk.Index).DownloadContentAsync()).Value.Content.ToArray(); }
        catch (RequestFailedException e) when (e.Status == 404) { return $"disk {disk.Index}: manifest missing"; }
        string sha = Convert.ToHexStringLower(SHA256.HashData(manifestBytes));
        if (sha != disk.ManifestSha256) return $"disk {disk.Index}: manifest sha256 {sha}, recorded {disk.ManifestSha256}";
        var manifest = DiskManifest.Parse(manifestBytes);
        var data = GuestData(backupId, disk.Index);
        for (int chunk = 0; chunk < manifest.ChunkSha256.Count; chunk++)
        {
            long start = (long)chunk * DiskManifest.ChunkBytes;
            var bytes = new byte[(int)Math.Min(DiskManifest.ChunkBytes, manifest.DataBytes - start)];
            try { await ReadAsync(data, start, bytes); }
            catch (Exception e) when (e is RequestFailedException or IOException) { return $"disk {disk.Index}, chunk {chunk}: {e.Message}"; }
            string chunkSha = Convert.ToHexStringLower(SHA256.HashData(bytes));
            if (chunkSha != manifest.ChunkSha256[chunk]) return $"disk {disk.Index}, chunk {chunk}: sha256 {chunkSha}, manifest {manifest.ChunkSha256[chunk]}";
        }
        return null;
    }

    /// <summary>The digest a real VM's backup is recorded with: SHA-256 of its disks' manifest SHA-256s, in disk order.</summary>
    public static string GuestBackupSha256(IEnumerable<DiskBackup> disks) =>
        Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(string.Join("\n", disks.OrderBy(d => d.Index).Select(d => d.ManifestSha256)))));

    private async Task EnsureContainersAsync()
    {
        if (_containersReady) return;
        await Blobs.GetBlobContainerClient(DiskContainer).CreateIfNotExistsAsync();
        await Blobs.GetBlobContainerClient(BackupContainer).CreateIfNotExistsAsync();
        _containersReady = true;
    }

    /// <summary>Creates the disk's page blob unless it exists; returns the size of the blob that is there.</summary>
    public async Task<long> CreateDiskAsync(string vmId, long sizeBytes)
    {
        await EnsureContainersAsync();
        if (await Disk(vmId).CreateIfNotExistsAsync(sizeBytes) is not null) return sizeBytes;
        return (await Disk(vmId).GetPropertiesAsync()).Value.ContentLength;
    }

    /// <summary>Writes guest writes to the disk, in order.</summary>
    public async Task ApplyAsync(string vmId, IReadOnlyList<DiskWrite> writes)
    {
        var disk = Disk(vmId);
        foreach (var w in writes)
        {
            var bytes = new byte[w.LengthBytes];
            w.Fill(bytes);
            using var stream = new MemoryStream(bytes, writable: false);
            await disk.UploadPagesAsync(stream, w.OffsetBytes);
        }
    }

    /// <summary>SHA-256 of the disk's bytes with <paramref name="overlay"/> applied on top (what the guest reads after a flush).</summary>
    public Task<string> DiskSha256Async(string vmId, long sizeBytes, IReadOnlyList<DiskWrite> overlay) =>
        Sha256Async(sizeBytes, (start, range) => ReadAsync(Disk(vmId), start, range), overlay);

    public async Task<string> SnapshotAsync(string vmId, string jobId)
    {
        // Idempotent: a re-run after a crash finds the snapshot its first run made.
        await foreach (var item in Blobs.GetBlobContainerClient(DiskContainer).GetBlobsAsync(
                           BlobTraits.Metadata, BlobStates.Snapshots, Disk(vmId).Name, CancellationToken.None))
            if (item.Name == Disk(vmId).Name && item.Snapshot is not null && item.Metadata.TryGetValue(JobMetadata, out var job) && job == jobId)
                return item.Snapshot;
        var snapshot = await Disk(vmId).CreateSnapshotAsync(new Dictionary<string, string> { [JobMetadata] = jobId });
        return snapshot.Value.Snapshot;
    }

    public async Task DeleteSnapshotAsync(string vmId, string snapshot)
    {
        try { await Disk(vmId).WithSnapshot(snapshot).DeleteIfExistsAsync(); }
        catch (RequestFailedException e) when (e.Status == 404) { }
    }

    /// <summary>Snapshots of a VM's disk still present (cleanup leaves none).</summary>
    public async Task<int> SnapshotCountAsync(string vmId)
    {
        int count = 0;
        await foreach (var item in Blobs.GetBlobContainerClient(DiskContainer).GetBlobsAsync(BlobTraits.None, BlobStates.Snapshots, Disk(vmId).Name, CancellationToken.None))
            if (item.Name == Disk(vmId).Name && item.Snapshot is not null) count++;
        return count;
    }

    public Task<string> SnapshotSha256Async(string vmId, string snapshot, long sizeBytes) =>
        Sha256Async(sizeBytes, (start, range) => ReadAsync(Disk(vmId).WithSnapshot(snapshot), start, range), []);

    /// <summary>Reads blocks from the snapshot and stages them on the backup blob, several at once; returns them in the order asked.</summary>
    public async Task<byte[][]> StageAsync(string vmId, string snapshot, string backupId, long diskBytes, IReadOnlyList<int> blocks)
    {
        await EnsureContainersAsync();
        var source = Disk(vmId).WithSnapshot(snapshot);
        var target = Backup(backupId);
        var read = new byte[blocks.Count][];
        await Parallel.ForEachAsync(Enumerable.Range(0, blocks.Count), new ParallelOptions { MaxDegreeOfParallelism = options.Value.CopyParallelism }, async (i, ct) =>
        {
            long start = (long)blocks[i] * BackupSteps.BlockBytes;
            var bytes = new byte[BackupSteps.BlockLength(blocks[i], diskBytes)];
            await ReadAsync(source, start, bytes);
            using var stream = new MemoryStream(bytes, writable: false);
            await target.StageBlockAsync(BackupSteps.BlockId(blocks[i]), stream, cancellationToken: ct);
            read[i] = bytes;
        });
        return read;
    }

    /// <summary>Feeds the snapshot's first <paramref name="blocks"/> blocks to a hash (a resumed copy catching up).</summary>
    public async Task HashPrefixAsync(string vmId, string snapshot, long diskBytes, int blocks, IncrementalHash hash)
    {
        var source = Disk(vmId).WithSnapshot(snapshot);
        for (int block = 0; block < blocks; block++)
        {
            var bytes = new byte[BackupSteps.BlockLength(block, diskBytes)];
            await ReadAsync(source, (long)block * BackupSteps.BlockBytes, bytes);
            hash.AppendData(bytes);
        }
    }

    public async Task CommitAsync(string backupId, IEnumerable<int> blocks) =>
        await Backup(backupId).CommitBlockListAsync(blocks.Select(BackupSteps.BlockId));

    /// <summary>
    /// Removes what an unfinished copy staged: committing an empty list drops the uncommitted blocks,
    /// and the empty blob is deleted. Never called for a committed backup.
    /// </summary>
    public Task DiscardStagedAsync(string backupId) => DiscardStagedAsync(Backup(backupId));

    /// <summary>
    /// Removes what an unfinished backup of a real VM's disk wrote — staged blocks, a disk already
    /// committed, its manifest — since no catalog record refers to any of it yet.
    /// </summary>
    public async Task DiscardGuestDiskAsync(string backupId, int disk)
    {
        await DiscardStagedAsync(GuestData(backupId, disk));
        await GuestData(backupId, disk).DeleteIfExistsAsync();
        await GuestManifest(backupId, disk).DeleteIfExistsAsync();
    }

    private static async Task DiscardStagedAsync(BlockBlobClient blob)
    {
        try
        {
            var blocks = (await blob.GetBlockListAsync(BlockListTypes.All)).Value;
            if (blocks.CommittedBlocks.Any()) return;
            await blob.CommitBlockListAsync([]);
            await blob.DeleteIfExistsAsync();
        }
        catch (RequestFailedException e) when (e.Status == 404) { }
    }

    /// <summary>Staged but uncommitted blocks left on a backup blob (cleanup leaves none).</summary>
    public Task<int> UncommittedBlockCountAsync(string backupId) => UncommittedBlockCountAsync(Backup(backupId));

    public Task<int> UncommittedBlockCountAsync(string backupId, int disk) => UncommittedBlockCountAsync(GuestData(backupId, disk));

    private static async Task<int> UncommittedBlockCountAsync(BlockBlobClient blob)
    {
        try { return (await blob.GetBlockListAsync(BlockListTypes.Uncommitted)).Value.UncommittedBlocks.Count(); }
        catch (RequestFailedException e) when (e.Status == 404) { return 0; }
    }

    /// <summary>
    /// The disk image a backup chain restores to, block by block: each block from the newest backup
    /// in the chain (oldest first, a full one at its root) that holds it.
    /// </summary>
    public async Task ReadImageAsync(IReadOnlyList<BackupRecord> chain, Func<long, byte[], Task> sink)
    {
        long diskBytes = chain[^1].DiskBytes;
        var source = new (BackupRecord Record, long Offset)[BackupSteps.BlockCount(diskBytes)];
        foreach (var record in chain)
        {
            long offset = 0;
            foreach (int block in record.Blocks ?? BlockSet.All(BackupSteps.BlockCount(record.DiskBytes)))
            {
                source[block] = (record, offset);
                offset += BackupSteps.BlockLength(block, record.DiskBytes);
            }
        }
        for (int block = 0; block < source.Length; block++)
        {
            var bytes = new byte[BackupSteps.BlockLength(block, diskBytes)];
            if (source[block].Record is { } r) await ReadAsync(Backup(r.BackupId), source[block].Offset, bytes);
            await sink((long)block * BackupSteps.BlockBytes, bytes);
        }
    }

    public async Task<string> ImageSha256Async(IReadOnlyList<BackupRecord> chain)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await ReadImageAsync(chain, (_, bytes) => { hash.AppendData(bytes); return Task.CompletedTask; });
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// Writes a backup chain's image onto a new VM's disk, then reads the disk back: its SHA-256 must be
    /// the one the backup recorded. Whatever a blob of that name held before is removed first, so the
    /// zeros the image skips writing read as zeros.
    /// </summary>
    public async Task RestoreAsync(IReadOnlyList<BackupRecord> chain, string vmId)
    {
        await EnsureContainersAsync();
        var disk = Disk(vmId);
        await disk.DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots);
        await disk.CreateAsync(chain[^1].DiskBytes);
        await ReadImageAsync(chain, async (start, bytes) =>
        {
            if (bytes.AsSpan().IndexOfAnyExcept((byte)0) < 0) return; // a new page blob reads zeros where nothing was written
            using var stream = new MemoryStream(bytes, writable: false);
            await disk.UploadPagesAsync(stream, start);
        });
        string written = await DiskSha256Async(vmId, chain[^1].DiskBytes, []);
        Rule.Require(written == chain[^1].Sha256, "restore-verify",
            $"The disk restored from backup {chain[^1].BackupId} reads back as sha256 {written}, not the recorded {chain[^1].Sha256}; VM {vmId} was not created.");
    }

    private static async Task ReadAsync(BlobBaseClient blob, long start, Memory<byte> into)
    {
        var response = await blob.DownloadStreamingAsync(new BlobDownloadOptions { Range = new HttpRange(start, into.Length) });
        await using var content = response.Value.Content;
        int read = 0;
        while (read < into.Length)
        {
            int n = await content.ReadAsync(into[read..]);
            if (n == 0) throw new IOException($"{blob.Name}: expected {into.Length} bytes at {start}, got {read}.");
            read += n;
        }
    }

    private static async Task<string> Sha256Async(long sizeBytes, Func<long, Memory<byte>, Task> read, IReadOnlyList<DiskWrite> overlay)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[BackupSteps.BlockBytes];
        for (long start = 0; start < sizeBytes; start += buffer.Length)
        {
            var range = buffer.AsMemory(0, (int)Math.Min(buffer.Length, sizeBytes - start));
            await read(start, range);
            foreach (var w in overlay) w.ApplyTo(range.Span, start);
            hash.AppendData(range.Span);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
