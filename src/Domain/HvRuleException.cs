using System.Runtime.CompilerServices;

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

    /// <summary>
    /// The same, with the message's figures formatted only when the rule is broken: rules are checked on
    /// every report and every pass, and a message built each time would cost more than the check.
    /// </summary>
    public static void Require(bool ok, string rule, [InterpolatedStringHandlerArgument(nameof(ok))] ref RuleMessage message)
    {
        if (!ok) throw new HvRuleException(rule, message.ToStringAndClear());
    }
}

/// <summary>An interpolated message that is formatted only when its rule is broken (<see cref="Rule.Require(bool, string, ref RuleMessage)"/>).</summary>
[InterpolatedStringHandler]
public ref struct RuleMessage
{
    private DefaultInterpolatedStringHandler _text;

    public RuleMessage(int literalLength, int formattedCount, bool ok, out bool format)
    {
        format = !ok;
        _text = format ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
    }

    public void AppendLiteral(string value) => _text.AppendLiteral(value);
    public void AppendFormatted<T>(T value) => _text.AppendFormatted(value);
    public void AppendFormatted<T>(T value, string? format) => _text.AppendFormatted(value, format);
    public void AppendFormatted(string? value) => _text.AppendFormatted(value);
    internal string ToStringAndClear() => _text.ToStringAndClear();
}
