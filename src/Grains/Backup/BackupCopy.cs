using System.Security.Cryptography;
using HvOrleans.Grains.Storage;

namespace HvOrleans.Grains;

/// <summary>
/// The Copy step of one job, a few blocks at a time: staged on backup media with fixed ids, committed
/// when all are there. A full backup's image SHA-256 is computed from the blocks as they are copied
/// (in memory: a copy resumed on another silo first re-reads what was copied before); an
/// incremental one's is read from the snapshot at the end.
/// </summary>
internal sealed class BackupCopy(DiskStore disks, int blocksPerRound) : IDisposable
{
    private IncrementalHash? _hash;
    private string? _hashFor;
    private int _hashedBlocks;

    /// <summary>One round: the next blocks staged, or, when all are, the commit; returns the progress after it.</summary>
    public async Task<(BackupVmProgress Next, bool Committed)> RoundAsync(BackupVmProgress vm)
    {
        bool full = vm.ParentBackupId is null;
        if (full && (_hashFor != vm.BackupId || _hashedBlocks != vm.NextBlock))
        {
            _hash?.Dispose();
            _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await disks.HashPrefixAsync(vm.VmId, vm.SnapshotId!, vm.DiskBytes, vm.NextBlock, _hash);
            (_hashFor, _hashedBlocks) = (vm.BackupId, vm.NextBlock);
        }
        if (vm.NextBlock < vm.Blocks.Count)
        {
            var batch = vm.Blocks.Skip(vm.NextBlock).Take(blocksPerRound).ToList();
            var copied = await disks.StageAsync(vm.VmId, vm.SnapshotId!, vm.BackupId, vm.DiskBytes, batch);
            if (full)
            {
                foreach (var bytes in copied) _hash!.AppendData(bytes);
                _hashedBlocks += copied.Length;
            }
            return (vm with { NextBlock = vm.NextBlock + batch.Count, BytesCopied = vm.BytesCopied + copied.Sum(b => (long)b.Length) }, false);
        }
        await disks.CommitAsync(vm.BackupId, vm.Blocks);
        string sha256 = full ? Convert.ToHexStringLower(_hash!.GetHashAndReset())
            : await disks.SnapshotSha256Async(vm.VmId, vm.SnapshotId!, vm.DiskBytes);
        _hashFor = null;
        return (vm with { Sha256 = sha256 }, true);
    }

    public void Dispose() => _hash?.Dispose();
}
