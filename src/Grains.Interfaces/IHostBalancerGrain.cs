namespace HvOrleans;

/// <summary>
/// Keeps one host balanced (same key as the host): a reminder re-activates it after a silo failure,
/// a grain timer asks the host for a Hyper-V pass every balancing period.
/// </summary>
[Alias("HvOrleans.IHostBalancerGrain")]
public interface IHostBalancerGrain : IGrainWithStringKey
{
    /// <summary>
    /// Activates the balancer, registers its reminder and starts its timer; answered once they are in
    /// place. Interleaves: the host awaits it, and a pass of the balancer may be awaiting the host.
    /// </summary>
    [AlwaysInterleave, Alias("Wake")] Task Wake();

    /// <summary>Runs one balancing pass now.</summary>
    [Alias("BalanceNow")] Task<BalancingReport> BalanceNow();
}
