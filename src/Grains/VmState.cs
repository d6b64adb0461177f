using HvOrleans.Backup;

namespace HvOrleans.Grains;

/// <summary>Where a VM lives (its configuration and memory are its host's) and its disk.</summary>
[GenerateSerializer, Alias("HvOrleans.VmState")]
public sealed record class VmState([property: Id(0)] string HostId, [property: Id(1)] GuestDisk? Disk = null,
    [property: Id(2)] string? CreatedBy = null)
{
    public VmState() : this("") { }

    public bool Exists => HostId.Length > 0;
}
