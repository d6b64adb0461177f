namespace HvOrleans.Backup;

/// <summary>A VM's disk as the guest sees it.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.DiskInfo")]
public sealed record class DiskInfo(
    [property: Id(0)] string VmId,
    [property: Id(1)] long SizeBytes,
    [property: Id(2)] bool GuestAgent,
    [property: Id(3)] int BufferedWrites,
    [property: Id(4)] bool Frozen,
    [property: Id(5)] bool Checkpointed,
    [property: Id(6)] string? BackupJob);
