namespace HvOrleans;

/// <summary>One VM's configuration and memory, as its host holds them.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmSnapshot")]
public sealed record class VmSnapshot(
    [property: Id(0)] string VmId,
    [property: Id(1)] string HostId,
    [property: Id(2)] VmConfig Config,
    [property: Id(3)] VmMemory Memory);

/// <summary>A VM with both views of its memory.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmInfo")]
public sealed record class VmInfo(
    [property: Id(0)] VmSnapshot Snapshot,
    [property: Id(1)] HostMemoryView HostView,
    [property: Id(2)] GuestMemoryView GuestView)
{
    public static VmInfo Of(VmSnapshot s) =>
        new(s, HostMemoryView.Of(s.Config, s.Memory), GuestMemoryView.Of(s.Memory));
}
