namespace HvOrleans;

/// <summary>One VM's configuration and memory, as its host holds them.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmSnapshot")]
public sealed record class VmSnapshot(
    [property: Id(0)] string VmId,
    [property: Id(1)] string HostId,
    [property: Id(2)] VmConfig Config,
    [property: Id(3)] VmMemory Memory);

/// <summary>
/// A VM with both views of its memory. For a real guest (<see cref="Real"/> set) the guest view is
/// the guest's own figures; for a modelled one, the model's. <see cref="CrashReason"/> is why a real
/// guest's process ended without being asked to, until the VM is started again. <see cref="BackupJob"/>
/// is the live backup holding a real VM (a modelled VM's disk grain knows its own).
/// </summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmInfo")]
public sealed record class VmInfo(
    [property: Id(0)] VmSnapshot Snapshot,
    [property: Id(1)] HostMemoryView HostView,
    [property: Id(2)] GuestMemoryView GuestView,
    [property: Id(3)] HostDriver Driver = HostDriver.Model,
    [property: Id(4)] RealGuestView? Real = null,
    [property: Id(5)] string? CrashReason = null,
    [property: Id(6)] string? BackupJob = null)
{
    public static VmInfo Of(VmSnapshot s) =>
        new(s, HostMemoryView.Of(s.Config, s.Memory), GuestMemoryView.Of(s.Memory, s.Config.Kernel));

    /// <summary>A VM on an agent's host: the guest view is what the guest last said (nothing before its first report).</summary>
    public static VmInfo OfReal(VmSnapshot s, RealGuestView? real, GuestStats? stats, string? crashReason) =>
        new(s, HostMemoryView.Of(s.Config, s.Memory),
            stats is null || !s.Memory.Running ? new GuestMemoryView(0, 0, 0, 0)
                : new GuestMemoryView(stats.TotalMb, Math.Max(0, stats.TotalMb - stats.FreeMb - stats.CachesMb), stats.FreeMb, stats.CachesMb),
            HostDriver.Qemu, s.Memory.Running ? real : null, crashReason);

    /// <summary>Running, Off, or Crashed (off because its process died).</summary>
    public string State => Snapshot.Memory.Running ? "Running" : CrashReason is null ? "Off" : "Crashed";
}
