using HvOrleans.Backup;

namespace HvOrleans.Grains;

/// <summary>A VM's guest disk; null until first used.</summary>
[GenerateSerializer, Alias("HvOrleans.GuestDiskState")]
public sealed record class GuestDiskState([property: Id(0)] GuestDisk? Disk = null);
