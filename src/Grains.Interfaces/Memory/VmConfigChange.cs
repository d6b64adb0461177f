namespace HvOrleans;

/// <summary>A configuration change: only the given values change.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmConfigChange")]
public sealed record class VmConfigChange(
    [property: Id(0)] int? StartupMb = null,
    [property: Id(1)] int? MinimumMb = null,
    [property: Id(2)] int? MaximumMb = null,
    [property: Id(3)] int? BufferPercent = null,
    [property: Id(4)] int? Weight = null)
{
    public VmConfig ApplyTo(VmConfig c) => new(StartupMb ?? c.StartupMb, MinimumMb ?? c.MinimumMb,
        MaximumMb ?? c.MaximumMb, BufferPercent ?? c.BufferPercent, Weight ?? c.Weight);
}
