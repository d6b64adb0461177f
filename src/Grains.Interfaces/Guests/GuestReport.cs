namespace HvOrleans;

[GenerateSerializer, Alias("HvOrleans.GuestRunState")]
public enum GuestRunState
{
    /// <summary>The QEMU process runs; the guest's balloon driver has not reported yet.</summary>
    Booting = 0,
    /// <summary>The guest reports its statistics.</summary>
    Running = 1,
    /// <summary>The QEMU process ended without being asked to.</summary>
    Crashed = 2,
}

/// <summary>The guest's own figures (virtio-balloon statistics), in MB.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.GuestStats")]
public sealed record class GuestStats(
    [property: Id(0)] int TotalMb,
    [property: Id(1)] int FreeMb,
    [property: Id(2)] int AvailableMb,
    [property: Id(3)] int CachesMb);

/// <summary>
/// One real guest as its agent sees it this second. <paramref name="BootId"/> names the boot the
/// process belongs to, so a report about an old boot cannot touch a VM started again since.
/// <paramref name="BalloonedMb"/> and <paramref name="PluggedMb"/> are what the devices hold now.
/// </summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.GuestReport")]
public sealed record class GuestReport(
    [property: Id(0)] string VmId,
    [property: Id(1)] long BootId,
    [property: Id(2)] GuestRunState State,
    [property: Id(3)] int Pid,
    [property: Id(4)] DateTimeOffset StartedAt,
    [property: Id(5)] GuestStats? Stats,
    [property: Id(6)] int BalloonedMb,
    [property: Id(7)] int PluggedMb,
    [property: Id(8)] string? CrashReason = null);

/// <summary>An agent's once-a-second message: every guest it runs, and where to reach it.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.HostSync")]
public sealed record class HostSync(
    [property: Id(0)] IReadOnlyList<GuestReport> Guests,
    [property: Id(1)] IHostAgent Agent);

/// <summary>One VM as its agent should run it: state, boot and the memory its devices should hold.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.PlannedVm")]
public sealed record class PlannedVm(
    [property: Id(0)] string VmId,
    [property: Id(1)] long BootId,
    [property: Id(2)] bool Running,
    [property: Id(3)] VmConfig Config,
    [property: Id(4)] int AssignedMb,
    [property: Id(5)] int HighWaterMb,
    [property: Id(7)] VmDisks Disks)
{
    /// <summary>Hot-added memory: what virtio-mem should have plugged.</summary>
    public int PluggedMb => Running ? HighWaterMb - Config.StartupMb : 0;
    public int BalloonedMb => Running ? HighWaterMb - AssignedMb : 0;
}

/// <summary>What the host's agent should run now.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.HostPlan")]
public sealed record class HostPlan([property: Id(0)] IReadOnlyList<PlannedVm> Vms);

/// <summary>A command run in a guest through its guest agent.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.GuestExecResult")]
public sealed record class GuestExecResult(
    [property: Id(0)] int ExitCode,
    [property: Id(1)] string StdOut,
    [property: Id(2)] string StdErr);

/// <summary>A real guest as <c>hv vm show</c> shows it.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.RealGuestView")]
public sealed record class RealGuestView(
    [property: Id(0)] GuestRunState State,
    [property: Id(1)] int Pid,
    [property: Id(2)] DateTimeOffset StartedAt,
    [property: Id(3)] int BalloonedMb,
    [property: Id(4)] int PluggedMb,
    [property: Id(5)] DateTimeOffset ReportedAt);
