namespace HvOrleans.Memory;

/// <summary>Shares memory among needs in proportion to weight (water-filling), in whole pages.</summary>
public static class WeightedShare
{
    /// <summary>
    /// Grants at most each need, in total at most <paramref name="availableMb"/>. Unsatisfied
    /// weighted VMs get shares proportional to their weights; weight-0 VMs get only what the
    /// weighted ones leave, in equal shares.
    /// </summary>
    public static int[] Distribute(long availableMb, IReadOnlyList<int> needsMb, IReadOnlyList<int> weights)
    {
        var scratch = new ShareScratch(needsMb.Count);
        var grants = new int[needsMb.Count];
        Distribute(availableMb, needsMb.ToArray(), weights.ToArray(), grants, scratch);
        return grants;
    }

    /// <summary>The same into <paramref name="grants"/>, with working room from <paramref name="scratch"/>: allocates nothing.</summary>
    public static void Distribute(long availableMb, ReadOnlySpan<int> needsMb, ReadOnlySpan<int> weights, Span<int> grants, ShareScratch scratch)
    {
        grants.Clear();
        long leftMb = Fill(availableMb, needsMb, weights, grants, zeroWeights: false, scratch);
        Fill(leftMb, needsMb, weights, grants, zeroWeights: true, scratch);
    }

    private static long Fill(long availableMb, ReadOnlySpan<int> needsMb, ReadOnlySpan<int> weights, Span<int> grants, bool zeroWeights, ShareScratch scratch)
    {
        const int page = VmConfig.PageMb;
        // The weight-0 VMs share equally: each counts as weight 1 among themselves.
        long WeightOf(int i, ReadOnlySpan<int> w) => zeroWeights ? 1 : w[i];
        var active = scratch.Active.AsSpan(0, needsMb.Length);
        int n = 0;
        for (int i = 0; i < needsMb.Length; i++)
            if ((zeroWeights ? weights[i] == 0 : weights[i] > 0) && needsMb[i] > 0) active[n++] = i;
        // Satisfy whoever needs less than a proportional share, then share the rest among the others.
        while (n > 0)
        {
            long totalWeight = 0;
            for (int k = 0; k < n; k++) totalWeight += WeightOf(active[k], weights);
            long roundMb = availableMb;     // who is satisfied is judged on what this round started with
            int kept = 0;
            for (int k = 0; k < n; k++)
            {
                int i = active[k];
                if ((long)needsMb[i] * totalWeight <= roundMb * WeightOf(i, weights))
                {
                    grants[i] = needsMb[i];
                    availableMb -= needsMb[i];
                }
                else active[kept++] = i;
            }
            if (kept == n) break;
            n = kept;
        }
        if (n == 0) return availableMb;
        long weightSum = 0;
        for (int k = 0; k < n; k++) weightSum += WeightOf(active[k], weights);
        long pool = availableMb;
        for (int k = 0; k < n; k++)
        {
            int i = active[k];
            int share = (int)(pool * WeightOf(i, weights) / weightSum / page * page);
            grants[i] = share;
            availableMb -= share;
        }
        // Whole pages left over by rounding go to the heaviest first (then by position).
        var order = scratch.Keys.AsSpan(0, n);
        for (int k = 0; k < n; k++) order[k] = ((long)(int.MaxValue - WeightOf(active[k], weights)) << 32) | (uint)active[k];
        order.Sort();
        foreach (long key in order)
        {
            if (availableMb < page) break;
            int i = (int)(key & 0xFFFF_FFFF);
            if (grants[i] + page > needsMb[i]) continue;
            grants[i] += page;
            availableMb -= page;
        }
        return availableMb;
    }
}

/// <summary>Working room for one host's policy and <see cref="WeightedShare"/>, sized for its VM count and reused.</summary>
public sealed class ShareScratch(int count)
{
    public readonly int[] Active = new int[count], Positions = new int[count], Bases = new int[count], Wants = new int[count],
        Weights = new int[count], Needs = new int[count], Grants = new int[count], Grants2 = new int[count];
    public readonly long[] Keys = new long[count];
}
