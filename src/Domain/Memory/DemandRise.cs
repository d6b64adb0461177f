namespace HvOrleans.Memory;

/// <summary>
/// What a VM's own history says about its next demand: the largest rise of its demand between two
/// reports, lately (<see cref="VmMemory.RiseMb"/>). Each report keeps the larger of the new rise and the
/// old figure less 1/16 of it, rounded up (half forgotten after ~11 reports, under an hour at the
/// simulator's 5-minute reports; a small figure does not linger for ever). A decayed maximum is a high
/// quantile of the recent rises that needs no window: one integer, which lives in the VM's persisted
/// memory record and so survives a silo restart with it. The first report of a boot has no rise.
/// </summary>
public static class DemandRise
{
    public const int DecayShift = 4;

    public static int NextRiseMb(bool reportedBefore, int demandBeforeMb, int demandMb, int riseMb)
    {
        int newRiseMb = reportedBefore ? Math.Max(0, demandMb - demandBeforeMb) : 0;
        int decayedMb = riseMb - (int)((riseMb + (1L << DecayShift) - 1) >> DecayShift);
        return Math.Max(decayedMb, newRiseMb);
    }
}
