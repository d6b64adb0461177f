namespace HvOrleans;

/// <summary>A host as the operator sees it. Sizes in MB.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.HostInfo")]
public sealed record class HostInfo(
    [property: Id(0)] string HostId,
    [property: Id(1)] int MemoryMb,
    [property: Id(2)] int ReserveMb,
    [property: Id(3)] IReadOnlyDictionary<string, int> AssignedMbByVm,
    [property: Id(4)] HostDriver Driver = HostDriver.Model,
    [property: Id(5)] string? Accel = null,
    [property: Id(6)] bool AgentConnected = false,
    [property: Id(7)] string Policy = "hyperv")
{
    public long AssignedMb => AssignedMbByVm.Values.Sum(v => (long)v);
    public int CapacityMb => MemoryMb - ReserveMb;
    public long AvailableMb => CapacityMb - AssignedMb;
}
