namespace HvOrleans.Memory;

/// <summary>
/// One VM's configuration and memory as plain figures, the form a balancing pass works on: a host's VMs
/// are an array of these, changed in place, so a pass allocates nothing per VM. The rules of Hyper-V's
/// memory arithmetic live here once; <see cref="VmMemory"/> reads them through a slot.
/// </summary>
public struct VmSlot
{
    public int StartupMb, MinimumMb, MaximumMb, BufferPercent, Weight;
    public int AssignedMb, HighWaterMb, DemandMb;
    public bool Running, DemandReported;

    /// <summary>The guest's recent largest demand rise (<see cref="DemandRise"/>).</summary>
    public int RiseMb;

    /// <summary>The guest's kernel takes ballooned pages out of its total (<see cref="GuestKernel.Current"/>).</summary>
    public bool BalloonLeavesTotal;

    public static VmSlot Of(VmConfig config, VmMemory memory) => new()
    {
        StartupMb = config.StartupMb, MinimumMb = config.MinimumMb, MaximumMb = config.MaximumMb,
        BufferPercent = config.BufferPercent, Weight = config.Weight, BalloonLeavesTotal = config.Kernel == GuestKernel.Current,
        AssignedMb = memory.AssignedMb, HighWaterMb = memory.HighWaterMb, DemandMb = memory.DemandMb,
        Running = memory.Running, DemandReported = memory.DemandReported, RiseMb = memory.RiseMb,
    };

    public readonly VmMemory ToMemory() => new(Running, AssignedMb, HighWaterMb, DemandMb, DemandReported, RiseMb);

    /// <summary>The guest's report of its demand (the rules of <see cref="VmMemory.WithDemand"/>).</summary>
    public void ReportDemand(int demandMb)
    {
        VmMemory.RequireDemand(Running, demandMb);
        RiseMb = DemandRise.NextRiseMb(DemandReported, DemandMb, demandMb, RiseMb);
        (DemandMb, DemandReported) = (demandMb, true);
    }

    /// <summary>Only a running guest that has reported its demand is balanced; a silent one keeps what it has.</summary>
    public readonly bool IsBalanced => Running && DemandReported;

    public readonly int BalloonedMb => HighWaterMb - AssignedMb;

    /// <summary>Demand × (1 + buffer), rounded up to a whole MB: what covers demand plus buffer.</summary>
    public readonly long DemandWithBufferMb => CeilingDiv((long)DemandMb * (100 + BufferPercent), 100);

    /// <summary>Demand × (1 + buffer), in whole pages, clamped to [Minimum, Maximum].</summary>
    public readonly int TargetMb => (int)Math.Clamp(RoundUpToPage(DemandWithBufferMb), MinimumMb, MaximumMb);

    /// <summary>Demand in whole pages, clamped to [Minimum, Maximum]: what the guest needs not to page.</summary>
    public readonly int DemandLevelMb => (int)Math.Clamp(RoundUpToPage(DemandMb), MinimumMb, MaximumMb);

    public readonly int GuestTotalMb => Running ? HighWaterMb - VmMemory.FirmwareMb : 0;
    public readonly int GuestUsedMb => Math.Min(DemandMb, GuestTotalMb - BalloonedMb);
    public readonly int GuestFreeMb => GuestTotalMb - GuestUsedMb - BalloonedMb;

    /// <summary>The total the guest's kernel sees (MemTotal): all it was given, or that less the balloon (<see cref="GuestKernel"/>).</summary>
    public readonly int KernelTotalMb => BalloonLeavesTotal ? GuestTotalMb - BalloonedMb : GuestTotalMb;

    /// <summary>How much more the guest would give up to the balloon right now, in whole pages: its free memory above the floor its kernel keeps.</summary>
    public readonly int BalloonableMb => Math.Max(0, RoundDownToPage(GuestFreeMb - VmMemory.BalloonFloorMb(KernelTotalMb)));

    /// <summary>The lowest Assigned ballooning can reach now: Minimum, or the guest's floor if higher.</summary>
    public readonly int LowestReachableMb => Math.Min(AssignedMb, Math.Max(MinimumMb, AssignedMb - BalloonableMb));

    /// <summary>
    /// Moves Assigned toward <paramref name="targetMb"/> as Hyper-V does. Shrinking balloons whole
    /// pages, never below Minimum nor past the guest's floor. Growing first unballoons, then hot-adds
    /// 128 MB blocks (the last may be partial to land on Maximum, or to take what the host can back
    /// when it cannot back a whole block), never past <paramref name="ceilingMb"/>, the most the host
    /// can give this VM now.
    /// </summary>
    public void ResizeTo(int targetMb, int ceilingMb)
    {
        if (!Running || targetMb == AssignedMb) return;
        if (targetMb < AssignedMb) Balloon(targetMb); else Grow(targetMb, ceilingMb);
    }

    private void Balloon(int targetMb)
    {
        int takeMb = RoundDownToPage(AssignedMb - Math.Max(targetMb, LowestReachableMb));
        if (takeMb > 0) AssignedMb -= takeMb;
    }

    private void Grow(int targetMb, int ceilingMb)
    {
        int limitMb = Math.Min(Math.Min(targetMb, MaximumMb), Math.Max(ceilingMb, AssignedMb));
        int wantMb = RoundDownToPage(limitMb - AssignedMb);
        if (wantMb <= 0) return;
        int unballoonMb = Math.Min(BalloonedMb, wantMb);
        int remainingMb = wantMb - unballoonMb;
        int hotAddMb = 0;
        if (remainingMb > 0)
        {
            int roomToMaximumMb = MaximumMb - HighWaterMb;
            int roomOnHostMb = Math.Max(ceilingMb, AssignedMb) - AssignedMb - unballoonMb;
            hotAddMb = Math.Min((int)CeilingDiv(remainingMb, VmMemory.HotAddBlockMb) * VmMemory.HotAddBlockMb, roomToMaximumMb);
            // A block the host cannot back in full: the guest onlines only the part that is backed
            // (hv_balloon does), so a VM short of memory gets what there is rather than nothing.
            if (hotAddMb > roomOnHostMb) hotAddMb = Math.Min((int)RoundUpToPage(remainingMb), RoundDownToPage(roomOnHostMb));
        }
        AssignedMb += unballoonMb + hotAddMb;
        HighWaterMb += hotAddMb;
    }

    internal static long CeilingDiv(long a, long b) => (a + b - 1) / b;
    internal static long RoundUpToPage(long mb) => CeilingDiv(mb, VmConfig.PageMb) * VmConfig.PageMb;
    internal static int RoundDownToPage(int mb) => mb <= 0 ? 0 : mb / VmConfig.PageMb * VmConfig.PageMb;
}
