using System.ComponentModel.DataAnnotations;

namespace HvOrleans.Grains;

/// <summary>How often each host's balancer runs, and its policy unless a host has its own (section <c>Hv:Balancer</c>).</summary>
public sealed class BalancerOptions : IValidatableObject
{
    /// <summary>
    /// The policy of every host that was not given one (<c>hv host set --policy</c>): <c>predict</c>, the
    /// best measured (docs/POLICIES.md); <c>hyperv</c> for Hyper-V's own.
    /// </summary>
    [Required] public string DefaultPolicy { get; set; } = PredictPolicy.Instance.Name;

    /// <summary>Time between balancing passes (Hyper-V: 1 s).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "1.00:00:00")]
    public TimeSpan BalancingPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Period of the reminder that re-activates a balancer after a silo failure and re-reads its
    /// VMs to heal anything a lost message left stale.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!BalancingPolicies.All.Any(p => p.Name.Equals(DefaultPolicy, StringComparison.OrdinalIgnoreCase)))
            yield return new ValidationResult(
                $"DefaultPolicy must be a balancing policy ({string.Join(", ", BalancingPolicies.All.Select(p => p.Name))}); got '{DefaultPolicy}'.",
                [nameof(DefaultPolicy)]);
    }
}
