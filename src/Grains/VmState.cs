namespace HvOrleans.Grains;

/// <summary>A VM's directory entry: where it lives (its configuration and memory are its host's).</summary>
[GenerateSerializer, Alias("HvOrleans.VmState")]
public sealed record class VmState([property: Id(0)] string HostId, [property: Id(2)] string? CreatedBy = null)
{
    public VmState() : this("") { }

    public bool Exists => HostId.Length > 0;
}
