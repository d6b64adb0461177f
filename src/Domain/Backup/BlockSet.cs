using System.Collections;

namespace HvOrleans.Backup;

/// <summary>A run of consecutive block indexes.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.BlockRange")]
public readonly record struct BlockRange([property: Id(0)] int Start, [property: Id(1)] int Count)
{
    public int End => Start + Count;
}

/// <summary>
/// A sorted set of block indexes, kept as runs. A full backup of any disk is one run, so a job's or a
/// record's block list stays a few bytes where a list of indexes would grow with the disk (a 1 TB
/// disk has 262,144 blocks of 4 MiB: over the ~1 MB a table entity can hold).
/// </summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.BlockSet")]
public sealed record class BlockSet([property: Id(0)] IReadOnlyList<BlockRange> Ranges) : IEnumerable<int>
{
    public static readonly BlockSet Empty = new([]);

    /// <summary>Blocks 0 … count − 1.</summary>
    public static BlockSet All(int count) => count == 0 ? Empty : new([new BlockRange(0, count)]);

    public static BlockSet Of(IEnumerable<int> blocks)
    {
        var ranges = new List<BlockRange>();
        foreach (int block in blocks.Distinct().Order())
        {
            if (ranges.Count > 0 && ranges[^1].End == block) ranges[^1] = ranges[^1] with { Count = ranges[^1].Count + 1 };
            else ranges.Add(new BlockRange(block, 1));
        }
        return new(ranges);
    }

    public int Count => Ranges.Sum(r => r.Count);

    public IEnumerator<int> GetEnumerator() => Ranges.SelectMany(r => Enumerable.Range(r.Start, r.Count)).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Bytes these blocks hold on a disk of <paramref name="diskBytes"/> (its last block may be short).</summary>
    public long Bytes(long diskBytes) => this.Sum(b => (long)BackupSteps.BlockLength(b, diskBytes));

    public bool Equals(BlockSet? other) => other is not null && Ranges.SequenceEqual(other.Ranges);

    public override int GetHashCode() => Ranges.Count == 0 ? 0 : HashCode.Combine(Ranges.Count, Ranges[0], Ranges[^1]);

    public override string ToString() => string.Join(",", Ranges.Select(r => r.Count == 1 ? $"{r.Start}" : $"{r.Start}-{r.End - 1}"));
}

/// <summary>
/// A backup's id names its VM, so that the VM's catalog — the one grain that knows the backup — is
/// found from the id alone: <c>{vmId}@{jobId}</c>. Ids of VMs and jobs never contain '@'.
/// </summary>
public static class BackupIds
{
    public static string Of(string vmId, string jobId) => $"{vmId}@{jobId}";

    public static string VmOf(string backupId)
    {
        int at = backupId.IndexOf('@');
        Rule.Require(at > 0 && at < backupId.Length - 1, "backup-id-format", $"A backup id is <vm>@<job>; got '{backupId}'.");
        return backupId[..at];
    }
}
