namespace HvOrleans.Backup;

/// <summary>
/// A real VM's virtual data disks, in the order the guest sees them (<c>/dev/vda</c>, <c>/dev/vdb</c>,
/// …), sizes in GB. The first is formatted ext4 and mounted on <c>/data</c>; the others are the
/// guest's to use. A live backup freezes them once and captures them all at the same instant.
/// </summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmDisks")]
public sealed record class VmDisks([property: Id(0)] IReadOnlyList<int> SizesGb)
{
    public const int MaxDisks = 8, LargestGb = 1024;

    public static readonly VmDisks Default = new([1]);

    public int Count => SizesGb.Count;

    public static long Bytes(int sizeGb) => sizeGb * 1024L * 1024 * 1024;

    /// <summary>Throws <see cref="HvRuleException"/> naming the rule and the value.</summary>
    public VmDisks Validate()
    {
        Rule.Require(SizesGb.Count is >= 1 and <= MaxDisks, "disks-1-to-8",
            $"A VM has 1..{MaxDisks} data disks; got {SizesGb.Count}.");
        foreach (int gb in SizesGb)
            Rule.Require(gb is >= 1 and <= LargestGb, "disk-1-to-1024-gb", $"A data disk is 1..{LargestGb} GB; got {gb}.");
        return this;
    }

    public bool Equals(VmDisks? other) => other is not null && SizesGb.SequenceEqual(other.SizesGb);

    public override int GetHashCode() => SizesGb.Aggregate(SizesGb.Count, HashCode.Combine);

    public override string ToString() => string.Join("+", SizesGb.Select(gb => $"{gb}G"));
}
