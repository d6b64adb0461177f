using System.CommandLine;
using System.CommandLine.Parsing;

namespace HvOrleans.Client.Cli;

/// <summary>hv's arguments and options, each checked while parsing and named in its error.</summary>
public static class Symbols
{
    /// <summary>One instance on every data command: scripts read the same camelCase shapes everywhere.</summary>
    public static readonly Option<bool> Json = new("--json") { Description = "Print JSON (camelCase; sizes carry their unit in the name) instead of text" };

    public static Argument<string> Id(string name, string what) => Checked(new Argument<string>(name) { Description = what }, what);

    /// <summary>One or more ids (<c>hv backup start vm1 vm2</c>).</summary>
    public static Argument<string[]> Ids(string name, string what, string description) =>
        Checked(new Argument<string[]>(name) { Description = description, Arity = ArgumentArity.OneOrMore }, what);

    private static Argument<T> Checked<T>(Argument<T> id, string what)
    {
        id.Validators.Add(result =>
        {
            if (result.Tokens.Any(t => t.Value.Length == 0)) result.AddError($"The {what} is empty.");
            // An option the command does not know lands in the first free argument; say what it is.
            foreach (var t in result.Tokens.Where(t => t.Value.StartsWith('-')))
                result.AddError($"Unrecognized command or argument '{t.Value}'.");
        });
        return id;
    }

    public static Option<string> Text(string name, string description, string helpName, bool required = false)
    {
        var text = new Option<string>(name) { Description = description, HelpName = helpName, Required = required };
        text.Validators.Add(result =>
        {
            if (result.Tokens.Any(t => t.Value.Length == 0)) result.AddError($"{name} is empty.");
        });
        return text;
    }

    public static Option<int> RequiredInt(string name, string description, string helpName = "MB") =>
        new(name) { Description = description, HelpName = helpName, Required = true, CustomParser = r => Whole(r, name, int.MaxValue, int.Parse) };

    public static Option<int?> OptionalInt(string name, string description, string helpName = "MB") =>
        new(name) { Description = description, HelpName = helpName, CustomParser = r => Whole(r, name, int.MaxValue, int.Parse) };

    public static Option<long> RequiredLong(string name, string description, string helpName) =>
        new(name) { Description = description, HelpName = helpName, Required = true, CustomParser = r => Whole(r, name, long.MaxValue, long.Parse) };

    /// <summary>A whole number, or an error that names the option, the rule and the value (not the CLR type).</summary>
    private static T Whole<T>(ArgumentResult result, string name, T max, Func<string, T> parse) where T : struct
    {
        string token = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        try
        {
            return parse(token);
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            result.AddError($"{name} must be a whole number (at most {max}); got '{token}'.");
            return default;
        }
    }

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>], <paramref name="fallback"/> when absent.</summary>
    public static Option<int> IntIn(string name, string description, int min, int max, int fallback, string helpName = "N") =>
        new(name)
        {
            Description = $"{description} ({min}..{max}, default {fallback})", HelpName = helpName, DefaultValueFactory = _ => fallback,
            CustomParser = result =>
            {
                int value = Whole(result, name, int.MaxValue, int.Parse);
                if (result.Errors.Any()) return value;
                if (value < min || value > max) result.AddError($"{name} must be {min}..{max}; got {value}.");
                return value;
            },
        };

    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };
}
