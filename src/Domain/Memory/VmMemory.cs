namespace HvOrleans.Memory;

/// <summary>
/// A VM's memory as the host holds it. <see cref="HighWaterMb"/> is what the guest has been given
/// so far (Startup plus every hot-add); it never shrinks while the VM runs. Ballooned memory is the
/// part of it the host has taken back, so Assigned = HighWater − Ballooned. <see cref="RiseMb"/> is the
/// guest's recent largest demand rise (<see cref="DemandRise"/>), what the predicting policy reads.
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("HvOrleans.VmMemory")]
public sealed record class VmMemory(
    [property: Id(0)] bool Running,
    [property: Id(1)] int AssignedMb,
    [property: Id(2)] int HighWaterMb,
    [property: Id(3)] int DemandMb,
    [property: Id(4)] bool DemandReported,
    [property: Id(5)] int RiseMb = 0)
{
    /// <summary>Memory the guest firmware keeps: the guest's own total is HighWater − this.</summary>
    public const int FirmwareMb = 32;
    public const int HotAddBlockMb = 128;

    public static readonly VmMemory Stopped = new(false, 0, 0, 0, false);

    public int BalloonedMb => HighWaterMb - AssignedMb;

    public int HotAddedMb(VmConfig config) => Running ? HighWaterMb - config.StartupMb : 0;

    public static VmMemory Boot(VmConfig config) => new(true, config.StartupMb, config.StartupMb, 0, false);

    public VmMemory WithDemand(int demandMb)
    {
        RequireDemand(Running, demandMb);
        return this with { DemandMb = demandMb, DemandReported = true, RiseMb = DemandRise.NextRiseMb(DemandReported, DemandMb, demandMb, RiseMb) };
    }

    /// <summary>Only a running guest reports demand, and only 0..1 TB of it.</summary>
    public static void RequireDemand(bool running, int demandMb)
    {
        // Checked for every VM of every report: the common case answers at once, small enough to inline,
        // and only a broken rule goes on to the rules and their messages.
        if (running && demandMb is >= 0 and <= VmConfig.LargestMaximumMb) return;
        RefuseDemand(running, demandMb);
    }

    private static void RefuseDemand(bool running, int demandMb)
    {
        Rule.Require(running, "vm-must-be-running",
            $"Demand is reported by a running guest; this VM is stopped (demand {demandMb} MB).");
        Rule.Require(demandMb is >= 0 and <= VmConfig.LargestMaximumMb, "demand-0-to-1tb",
            $"DemandMb must be 0..{VmConfig.LargestMaximumMb}; got {demandMb}.");
    }

    /// <summary>Demand × (1 + buffer), rounded up to a whole MB: what covers demand plus buffer.</summary>
    public long DemandWithBufferMb(VmConfig config) => Slot(config).DemandWithBufferMb;

    /// <summary>Demand × (1 + buffer), in whole pages, clamped to [Minimum, Maximum].</summary>
    public int TargetMb(VmConfig config) => Slot(config).TargetMb;

    /// <summary>Demand in whole pages, clamped to [Minimum, Maximum]: what the guest needs not to page.</summary>
    public int DemandLevelMb(VmConfig config) => Slot(config).DemandLevelMb;

    public int GuestTotalMb => Slot().GuestTotalMb;
    public int GuestUsedMb => Slot().GuestUsedMb;
    public int GuestFreeMb => Slot().GuestFreeMb;

    /// <summary>
    /// The free memory a Linux guest keeps for itself when asked to balloon (hv_balloon's floor),
    /// for a guest of <paramref name="guestTotalMb"/> MB.
    /// </summary>
    public static int BalloonFloorMb(int guestTotalMb) => guestTotalMb switch
    {
        < 128 => 8 + guestTotalMb / 2,
        < 512 => 40 + guestTotalMb / 4,
        < 2048 => 104 + guestTotalMb / 8,
        < 8192 => 232 + guestTotalMb / 16,
        _ => 488 + guestTotalMb / 32,
    };

    /// <summary>How much more the guest would give up to the balloon right now, in whole pages.</summary>
    public int BalloonableMb => Slot().BalloonableMb;

    /// <summary>The lowest Assigned ballooning can reach now: Minimum, or the guest's floor if higher.</summary>
    public int LowestReachableMb(VmConfig config) => Slot(config).LowestReachableMb;

    /// <summary>Moves Assigned toward <paramref name="targetMb"/> as Hyper-V does (<see cref="VmSlot.ResizeTo"/>).</summary>
    public VmMemory ResizeTo(VmConfig config, int targetMb, int ceilingMb)
    {
        var slot = Slot(config);
        slot.ResizeTo(targetMb, ceilingMb);
        return slot.AssignedMb == AssignedMb && slot.HighWaterMb == HighWaterMb ? this
            : this with { AssignedMb = slot.AssignedMb, HighWaterMb = slot.HighWaterMb };
    }

    /// <summary>The figures of a VM without configuration (limits 0), for what depends on memory alone.</summary>
    private VmSlot Slot(VmConfig? config = null) => config is null
        ? new VmSlot { AssignedMb = AssignedMb, HighWaterMb = HighWaterMb, DemandMb = DemandMb, Running = Running, DemandReported = DemandReported }
        : VmSlot.Of(config, this);
}
