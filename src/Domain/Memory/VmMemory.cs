namespace HvOrleans.Memory;

/// <summary>
/// A VM's memory as the host holds it. <see cref="HighWaterMb"/> is what the guest has been given
/// so far (Startup plus every hot-add); it never shrinks while the VM runs. Ballooned memory is the
/// part of it the host has taken back, so Assigned = HighWater − Ballooned.
/// </summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmMemory")]
public sealed record class VmMemory(
    [property: Id(0)] bool Running,
    [property: Id(1)] int AssignedMb,
    [property: Id(2)] int HighWaterMb,
    [property: Id(3)] int DemandMb,
    [property: Id(4)] bool DemandReported)
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
        Rule.Require(Running, "vm-must-be-running",
            $"Demand is reported by a running guest; this VM is stopped (demand {demandMb} MB).");
        Rule.Require(demandMb is >= 0 and <= VmConfig.LargestMaximumMb, "demand-0-to-1tb",
            $"DemandMb must be 0..{VmConfig.LargestMaximumMb}; got {demandMb}.");
        return this with { DemandMb = demandMb, DemandReported = true };
    }

    /// <summary>Demand × (1 + buffer), rounded up to a whole MB: what covers demand plus buffer.</summary>
    public long DemandWithBufferMb(VmConfig config) => CeilingDiv((long)DemandMb * (100 + config.BufferPercent), 100);

    /// <summary>Demand × (1 + buffer), in whole pages, clamped to [Minimum, Maximum].</summary>
    public int TargetMb(VmConfig config) =>
        (int)Math.Clamp(RoundUpToPage(DemandWithBufferMb(config)), config.MinimumMb, config.MaximumMb);

    /// <summary>Demand in whole pages, clamped to [Minimum, Maximum]: what the guest needs not to page.</summary>
    public int DemandLevelMb(VmConfig config) =>
        (int)Math.Clamp(RoundUpToPage(DemandMb), config.MinimumMb, config.MaximumMb);

    public int GuestTotalMb => Running ? HighWaterMb - FirmwareMb : 0;
    public int GuestUsedMb => Math.Min(DemandMb, GuestTotalMb - BalloonedMb);
    public int GuestFreeMb => GuestTotalMb - GuestUsedMb - BalloonedMb;

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
    public int BalloonableMb => Math.Max(0, RoundDownToPage(GuestFreeMb - BalloonFloorMb(GuestTotalMb)));

    /// <summary>The lowest Assigned ballooning can reach now: Minimum, or the guest's floor if higher.</summary>
    public int LowestReachableMb(VmConfig config) =>
        Math.Min(AssignedMb, Math.Max(config.MinimumMb, AssignedMb - BalloonableMb));

    /// <summary>
    /// Moves Assigned toward <paramref name="targetMb"/> as Hyper-V does. Shrinking balloons whole
    /// pages, never below Minimum nor past the guest's floor. Growing first unballoons, then hot-adds
    /// 128 MB blocks (the last may be partial to land on Maximum, or to take what the host can back
    /// when it cannot back a whole block), never past <paramref name="ceilingMb"/>, the most the host
    /// can give this VM now.
    /// </summary>
    public VmMemory ResizeTo(VmConfig config, int targetMb, int ceilingMb)
    {
        if (!Running || targetMb == AssignedMb) return this;
        return targetMb < AssignedMb ? Balloon(config, targetMb) : Grow(config, targetMb, ceilingMb);
    }

    private VmMemory Balloon(VmConfig config, int targetMb)
    {
        int takeMb = RoundDownToPage(AssignedMb - Math.Max(targetMb, LowestReachableMb(config)));
        return takeMb <= 0 ? this : this with { AssignedMb = AssignedMb - takeMb };
    }

    private VmMemory Grow(VmConfig config, int targetMb, int ceilingMb)
    {
        int limitMb = Math.Min(Math.Min(targetMb, config.MaximumMb), Math.Max(ceilingMb, AssignedMb));
        int wantMb = RoundDownToPage(limitMb - AssignedMb);
        if (wantMb <= 0) return this;
        int unballoonMb = Math.Min(BalloonedMb, wantMb);
        int remainingMb = wantMb - unballoonMb;
        int hotAddMb = 0;
        if (remainingMb > 0)
        {
            int roomToMaximumMb = config.MaximumMb - HighWaterMb;
            int roomOnHostMb = Math.Max(ceilingMb, AssignedMb) - AssignedMb - unballoonMb;
            hotAddMb = Math.Min((int)CeilingDiv(remainingMb, HotAddBlockMb) * HotAddBlockMb, roomToMaximumMb);
            // A block the host cannot back in full: the guest onlines only the part that is backed
            // (hv_balloon does), so a VM short of memory gets what there is rather than nothing.
            if (hotAddMb > roomOnHostMb) hotAddMb = Math.Min((int)RoundUpToPage(remainingMb), RoundDownToPage(roomOnHostMb));
        }
        return this with { AssignedMb = AssignedMb + unballoonMb + hotAddMb, HighWaterMb = HighWaterMb + hotAddMb };
    }

    private static long CeilingDiv(long a, long b) => (a + b - 1) / b;
    private static long RoundUpToPage(long mb) => CeilingDiv(mb, VmConfig.PageMb) * VmConfig.PageMb;
    private static int RoundDownToPage(int mb) => mb <= 0 ? 0 : mb / VmConfig.PageMb * VmConfig.PageMb;
}
