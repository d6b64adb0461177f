namespace HvOrleans.Grains;

/// <summary>Where a VM lives; its configuration and memory are its host's.</summary>
[GenerateSerializer, Alias("HvOrleans.VmState")]
public sealed record class VmState([property: Id(0)] string HostId)
{
    public VmState() : this("") { }

    public bool Exists => HostId.Length > 0;
}
