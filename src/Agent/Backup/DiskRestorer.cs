using System.Buffers.Binary;
using System.Security.Cryptography;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using HvOrleans.Agent.Qemu;

namespace HvOrleans.Agent.Backup;

/// <summary>
/// Writes a new VM's disks from backup layers, before the VM exists: each layer's manifest is checked
/// against the SHA-256 the catalog recorded and each chunk against its manifest, so nothing unverified
/// reaches the image. The image is built raw (sparse), checked with <c>e2fsck -fn</c> when it holds
/// ext4, hashed, and converted to the qcow2 the guest boots from.
/// </summary>
public sealed class DiskRestorer(ILogger logger)
{
    private const int Ext4MagicOffset = 1080;
    private const ushort Ext4Magic = 0xEF53;

    public async Task<IReadOnlyList<RestoredDisk>> RestoreAsync(string folder, IReadOnlyList<DiskRestore> disks, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        var restored = new List<RestoredDisk>();
        foreach (var disk in disks.OrderBy(d => d.Index))
            restored.Add(await RestoreDiskAsync(folder, disk, cancellationToken));
        return restored;
    }

    private async Task<RestoredDisk> RestoreDiskAsync(string folder, DiskRestore disk, CancellationToken cancellationToken)
    {
        string raw = Path.Combine(folder, $"disk{disk.Index}.raw.tmp"), qcow2 = Path.Combine(folder, QemuGuest.DiskFile(disk.Index));
        long read = 0;
        try
        {
            using (var image = File.OpenHandle(raw, FileMode.Create, FileAccess.ReadWrite))
            {
                RandomAccess.SetLength(image, disk.SizeBytes);
                foreach (var layer in disk.Layers)
                    read += await ApplyLayerAsync(image, disk, layer, cancellationToken);
            }
            string sha = await Sha256Async(raw, cancellationToken);
            string check = await CheckFileSystemAsync(raw);
            string tmp = qcow2 + ".tmp";
            var (code, output) = await ProcessRunner.RunAsync("qemu-img", ["convert", "-O", "qcow2", raw, tmp], TimeSpan.FromMinutes(10));
            if (code != 0) throw new IOException($"qemu-img convert of the restored disk {disk.Index} failed: {output}");
            File.Move(tmp, qcow2, overwrite: true);
            logger.LogInformation("Restored disk {Index} into {Folder}: {Layers} layer(s), {ReadMb:0.0} MB read, sha256 {Sha}, {Check}",
                disk.Index, folder, disk.Layers.Count, read / 1048576.0, sha[..16], check);
            return new RestoredDisk(disk.Index, disk.SizeBytes, sha, check, read);
        }
        finally
        {
            File.Delete(raw);
        }
    }

    private static async Task<long> ApplyLayerAsync(Microsoft.Win32.SafeHandles.SafeFileHandle image, DiskRestore disk, RestoreLayer layer, CancellationToken cancellationToken)
    {
        var manifestBytes = (await new BlobClient(layer.Manifest).DownloadContentAsync(cancellationToken)).Value.Content.ToArray();
        string manifestSha = Convert.ToHexStringLower(SHA256.HashData(manifestBytes));
        Rule.Require(manifestSha == layer.ManifestSha256, "restore-verify",
            $"Backup {layer.BackupId}'s manifest of disk {disk.Index} reads as sha256 {manifestSha}, not the recorded {layer.ManifestSha256}; nothing restored.");
        var manifest = DiskManifest.Parse(manifestBytes);
        Rule.Require(manifest.SizeBytes == disk.SizeBytes, "restore-disk-size",
            $"Backup {layer.BackupId} holds disk {disk.Index} of {manifest.SizeBytes} bytes, not {disk.SizeBytes}.");
        var data = new BlobClient(layer.Data);
        var zeros = new byte[1 << 20];
        byte[] chunk = [];
        int chunkIndex = -1;
        long stream = 0;
        foreach (var extent in manifest.Extents)
        {
            if (!extent.Data)
            {
                for (long at = 0; at < extent.Length; at += zeros.Length)
                    RandomAccess.Write(image, zeros.AsSpan(0, (int)Math.Min(zeros.Length, extent.Length - at)), extent.Start + at);
                continue;
            }
            for (long done = 0; done < extent.Length;)
            {
                int wanted = (int)((stream + done) / DiskManifest.ChunkBytes);
                if (wanted != chunkIndex)
                {
                    chunk = await ReadChunkAsync(data, manifest, wanted, layer.BackupId, cancellationToken);
                    chunkIndex = wanted;
                }
                int offset = (int)((stream + done) % DiskManifest.ChunkBytes);
                int take = (int)Math.Min(extent.Length - done, chunk.Length - offset);
                RandomAccess.Write(image, chunk.AsSpan(offset, take), extent.Start + done);
                done += take;
            }
            stream += extent.Length;
        }
        return manifest.DataBytes;
    }

    private static async Task<byte[]> ReadChunkAsync(BlobClient data, DiskManifest manifest, int chunk, string backupId, CancellationToken cancellationToken)
    {
        long start = (long)chunk * DiskManifest.ChunkBytes;
        int length = (int)Math.Min(DiskManifest.ChunkBytes, manifest.DataBytes - start);
        var response = await data.DownloadContentAsync(new BlobDownloadOptions { Range = new Azure.HttpRange(start, length) }, cancellationToken);
        byte[] bytes = response.Value.Content.ToArray();
        string sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        Rule.Require(bytes.Length == length && sha == manifest.ChunkSha256[chunk], "restore-verify",
            $"Backup {backupId}, disk {manifest.Disk}, chunk {chunk}: read {bytes.Length} bytes with sha256 {sha}, the manifest says {length} bytes with {manifest.ChunkSha256[chunk]}; nothing restored.");
        return bytes;
    }

    private static async Task<string> Sha256Async(string path, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
    }

    /// <summary><c>e2fsck -fn</c> of an image holding ext4: "clean" with its summary, or the errors it found.</summary>
    private static async Task<string> CheckFileSystemAsync(string raw)
    {
        var magic = new byte[2];
        using (var file = File.OpenHandle(raw))
            if (RandomAccess.Read(file, magic, Ext4MagicOffset) < 2 || BinaryPrimitives.ReadUInt16LittleEndian(magic) != Ext4Magic) return "not ext4";
        var (code, output) = await ProcessRunner.RunAsync("e2fsck", ["-fn", raw], TimeSpan.FromMinutes(5));
        // Its summary ("data: 12/65536 files (0.0% non-contiguous), …"), not the version line it writes to stderr.
        string last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.Contains(" files (", StringComparison.Ordinal))?.Trim() ?? "";
        return code == 0 ? $"clean: {last}" : $"e2fsck exit {code}: {output.Replace('\n', ' ')}";
    }
}
