using System.Collections.Immutable;

namespace HvOrleans.Grains;

[GenerateSerializer, Alias("HvOrleans.HostState")]
public sealed record class HostState(
    [property: Id(0)] int MemoryMb,
    [property: Id(1)] int ReserveMb,
    [property: Id(2)] ImmutableDictionary<string, int> AssignedMbByVm)
{
    public HostState() : this(0, 0, ImmutableDictionary<string, int>.Empty) { }

    public bool Exists => MemoryMb > 0;
    public int CapacityMb => MemoryMb - ReserveMb;
    public long AssignedMb => AssignedMbByVm.Values.Sum(v => (long)v);
}
