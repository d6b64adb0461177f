namespace HvOrleans;

/// <summary>
/// A request broke one of HvOrleans' rules. <see cref="Rule"/> names the rule (stable, kebab-case,
/// e.g. <c>minimum-le-startup</c>); the message says which values broke it. Nothing was changed.
/// </summary>
[GenerateSerializer, Alias("HvOrleans.HvRuleException")]
public sealed class HvRuleException : Exception
{
    public HvRuleException(string rule, string message) : base(message) => Rule = rule;

    [Id(0)]
    public string Rule { get; }

    public override string ToString() => $"{Rule}: {Message}";
}

public static class Rule
{
    /// <summary>Throws <see cref="HvRuleException"/> for <paramref name="rule"/> unless <paramref name="ok"/>.</summary>
    public static void Require(bool ok, string rule, string message)
    {
        if (!ok) throw new HvRuleException(rule, message);
    }
}
