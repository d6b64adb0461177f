namespace HvOrleans.Agent.Qemu;

/// <summary>
/// The devices through which a host gives and takes a guest's memory. Today virtio-balloon and
/// virtio-mem (QEMU 7.2); QEMU 8.2's hv-balloon, Hyper-V's own protocol, would be another implementation.
/// </summary>
public interface IGuestMemoryDevices
{
    /// <summary>Turns on the guest's statistics (once a second). Repeated on every attach: QEMU forgets nothing, but costs nothing.</summary>
    Task StartStatisticsAsync(CancellationToken cancellationToken);

    /// <summary>What the devices hold now and the guest's own figures (null until its driver reports).</summary>
    Task<DeviceReading> ReadAsync(CancellationToken cancellationToken);

    /// <summary>Sets the devices' targets; the guest follows in its own time.</summary>
    Task ApplyAsync(DeviceTargets targets, CancellationToken cancellationToken);
}

/// <summary>A reading of a guest's memory devices, in MB.</summary>
public sealed record DeviceReading(int BalloonedMb, int PluggedMb, GuestStats? Stats);
