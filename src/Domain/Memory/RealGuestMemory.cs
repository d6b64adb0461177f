namespace HvOrleans.Memory;

/// <summary>
/// Hyper-V's Dynamic Memory on QEMU's devices: boot RAM is Startup, virtio-mem holds what was
/// hot-added (HighWater − Startup, in its 2 MB blocks), and virtio-balloon takes back what is
/// ballooned (HighWater − Assigned). docs/REAL-GUESTS.md has the whole mapping and why.
/// </summary>
public static class RealGuestMemory
{
    /// <summary>
    /// QEMU's balloon target counts only boot RAM ("actual" = boot RAM − balloon), so it can take at
    /// most this much less than Startup; the guest's kernel lives in boot RAM anyway.
    /// </summary>
    public const int BootRamKeptMb = VmConfig.PageMb;

    /// <summary>What the devices should hold, in MB, for a VM with this Startup, HighWater and Assigned.</summary>
    public static DeviceTargets Targets(int startupMb, int highWaterMb, int assignedMb)
    {
        Rule.Require(assignedMb <= highWaterMb && startupMb <= highWaterMb && assignedMb > 0, "assigned-within-high-water",
            $"Assigned {assignedMb} MB must be positive and at most HighWater {highWaterMb} MB, itself at least Startup {startupMb} MB.");
        int balloonedMb = highWaterMb - assignedMb;
        int byBalloonMb = Math.Min(balloonedMb, startupMb - BootRamKeptMb);
        // Past what the balloon can count, the rest is unplugged from virtio-mem: the guest's total
        // then shrinks, which Hyper-V never does; it happens only after a VM grew far above Startup
        // and then shrank below it.
        int unpluggedMb = balloonedMb - byBalloonMb;
        return new DeviceTargets(highWaterMb - startupMb - unpluggedMb, byBalloonMb);
    }

    /// <summary>
    /// A real guest's demand: the memory it holds (boot RAM + plugged − ballooned) less what it could
    /// give up at once (MemAvailable). Its kernel's own reserve counts as demand, as it must: the
    /// guest cannot run on less.
    /// </summary>
    public static int DemandMb(int startupMb, int pluggedMb, int balloonedMb, int availableMb) =>
        Math.Max(0, startupMb + pluggedMb - balloonedMb - availableMb);
}

/// <summary>virtio-mem's requested size and the balloon's size, in MB.</summary>
public readonly record struct DeviceTargets(int PluggedMb, int BalloonMb);
