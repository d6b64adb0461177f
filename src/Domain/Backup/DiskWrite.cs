namespace HvOrleans.Backup;

/// <summary>
/// A guest write of deterministic data: <see cref="LengthBytes"/> bytes at <see cref="OffsetBytes"/>,
/// whose content is a function of <see cref="Seed"/> and each byte's position on the disk, so a
/// write is a few numbers in state yet anyone can rebuild its exact bytes.
/// </summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.DiskWrite")]
public sealed record class DiskWrite([property: Id(0)] long OffsetBytes, [property: Id(1)] int LengthBytes, [property: Id(2)] long Seed)
{
    /// <summary>Page blobs take whole 512-byte sectors.</summary>
    public const int SectorBytes = 512;
    public const int LargestWriteBytes = 4 * 1024 * 1024;

    public long EndBytes => OffsetBytes + LengthBytes;

    public DiskWrite Validate(long diskBytes)
    {
        Rule.Require(OffsetBytes >= 0 && OffsetBytes % SectorBytes == 0, "write-offset-sector",
            $"A write starts on a {SectorBytes}-byte sector; got offset {OffsetBytes}.");
        Rule.Require(LengthBytes > 0 && LengthBytes % SectorBytes == 0 && LengthBytes <= LargestWriteBytes, "write-length-sector",
            $"A write is 1..{LargestWriteBytes / SectorBytes} whole {SectorBytes}-byte sectors; got length {LengthBytes}.");
        // Compared without adding, so an offset near long.MaxValue cannot wrap round into the disk.
        Rule.Require(OffsetBytes <= diskBytes - LengthBytes, "write-within-disk",
            $"A write must end within the disk ({diskBytes} bytes); got {OffsetBytes}+{LengthBytes}.");
        return this;
    }

    /// <summary>Fills <paramref name="buffer"/> with this write's bytes.</summary>
    public void Fill(Span<byte> buffer) => DiskPattern.Fill(buffer, OffsetBytes, Seed);

    /// <summary>Copies the part of this write that falls in [<paramref name="rangeStart"/>, +range.Length) into the range.</summary>
    public void ApplyTo(Span<byte> range, long rangeStart)
    {
        long from = Math.Max(OffsetBytes, rangeStart), to = Math.Min(EndBytes, rangeStart + range.Length);
        if (from >= to) return;
        DiskPattern.Fill(range.Slice((int)(from - rangeStart), (int)(to - from)), from, Seed);
    }

    /// <summary>The copy blocks this write touches.</summary>
    public IEnumerable<int> Blocks(int blockBytes) =>
        Enumerable.Range((int)(OffsetBytes / blockBytes), (int)((EndBytes - 1) / blockBytes - OffsetBytes / blockBytes + 1));
}

/// <summary>Deterministic disk content: the byte at position p of seed s, in 8-byte words of SplitMix64.</summary>
public static class DiskPattern
{
    public static void Fill(Span<byte> buffer, long position, long seed)
    {
        for (int i = 0; i < buffer.Length;)
        {
            long p = position + i;
            ulong word = Mix((ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)(p >> 3));
            for (int b = (int)(p & 7); b < 8 && i < buffer.Length; b++, i++) buffer[i] = (byte)(word >> (8 * b));
        }
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
