namespace HvOrleans.Grains;

/// <summary>How often each host's balancer runs. Bound from configuration section <c>Hv:Balancer</c>.</summary>
public sealed class BalancerOptions
{
    public const string Section = "Hv:Balancer";

    /// <summary>Time between balancing passes (Hyper-V: 1 s).</summary>
    public TimeSpan BalancingPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Period of the reminder that re-activates a balancer after a silo failure and re-reads its
    /// VMs to heal anything a lost message left stale.
    /// </summary>
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);
}
