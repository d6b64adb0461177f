namespace HvOrleans.Grains;

[GenerateSerializer, Alias("HvOrleans.VmState")]
public sealed record class VmState(
    [property: Id(0)] string HostId,
    [property: Id(1)] VmConfig? Config,
    [property: Id(2)] VmMemory Memory,
    [property: Id(3)] long Version)
{
    public VmState() : this("", null, VmMemory.Stopped, 0) { }

    public bool Exists => Config is not null;
}
