using System.ComponentModel.DataAnnotations;

namespace HvOrleans.Grains;

/// <summary>How often each host's balancer runs (section <c>Hv:Balancer</c>).</summary>
public sealed class BalancerOptions
{
    /// <summary>Time between balancing passes (Hyper-V: 1 s).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan BalancingPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Period of the reminder that re-activates a balancer after a silo failure and re-reads its
    /// VMs to heal anything a lost message left stale.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);
}
