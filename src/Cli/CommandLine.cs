namespace HvOrleans.Cli;

/// <summary>A parsed command line (hv-sim, hv-drill): positional words, <c>--name value</c> or <c>--name=value</c> options (the last one counts, unless read as a list) and bare <c>--flags</c>.</summary>
public sealed class CommandLine
{
    private static readonly HashSet<string> Flags = ["json", "help", "fresh", "density", "check", "incremental", "force", "boot"];
    private readonly Dictionary<string, List<string>> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public CommandLine(IReadOnlyList<string> args)
    {
        var words = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            // Everything after a bare "--" is another program's command line, passed on untouched.
            if (args[i] == "--") { Rest = args.Skip(i + 1).ToList(); break; }
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) { words.Add(args[i]); continue; }
            string name = args[i][2..];
            if (name.IndexOf('=') is > 0 and var equals)
            {
                // --name=value, as System.CommandLine (hv) reads it too.
                (_options.TryGetValue(name[..equals], out var given) ? given : _options[name[..equals]] = []).Add(name[(equals + 1)..]);
                continue;
            }
            if (Flags.Contains(name)) { _flags.Add(name); continue; }
            if (i + 1 >= args.Count) throw new UsageException($"--{name} needs a value.");
            (_options.TryGetValue(name, out var values) ? values : _options[name] = []).Add(args[++i]);
        }
        Words = words;
    }

    public IReadOnlyList<string> Words { get; }

    /// <summary>The words after a bare <c>--</c>, or null when there is none.</summary>
    public IReadOnlyList<string>? Rest { get; }

    public bool Json => Flag("json");

    public bool Flag(string name)
    {
        _read.Add(name);
        return _flags.Contains(name);
    }

    public string Word(int index, string what) =>
        index >= Words.Count ? throw new UsageException($"Missing {what}.")
        : Words[index].Length == 0 ? throw new UsageException($"The {what} is empty.")
        : Words[index];

    public int RequiredMb(string name) => OptionalInt(name) ?? throw new UsageException($"--{name} is required.");

    public string? Text(string name)
    {
        _read.Add(name);
        string? text = _options.GetValueOrDefault(name)?[^1];
        return text is { Length: 0 } ? throw new UsageException($"--{name} is empty.") : text;
    }

    public int? OptionalInt(string name) => Text(name) is { } text ? Int(name, text) : null;

    /// <summary>Every value of an option given several times, in order; empty when absent.</summary>
    public IReadOnlyList<string> Texts(string name)
    {
        _read.Add(name);
        var values = _options.GetValueOrDefault(name) ?? [];
        return values.Any(v => v.Length == 0) ? throw new UsageException($"--{name} is empty.") : values;
    }

    /// <summary>Every value of an option given several times (<c>--disk-gb 1 --disk-gb 4</c>), in order; empty when absent.</summary>
    public IReadOnlyList<int> Ints(string name)
    {
        _read.Add(name);
        return _options.TryGetValue(name, out var values) ? values.Select(v => Int(name, v)).ToList() : [];
    }

    private static int Int(string name, string text) =>
        int.TryParse(text, out var value)
            ? value
            : throw new UsageException($"--{name} must be a whole number (at most {int.MaxValue}); got '{text}'.");

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>]: required unless a <paramref name="fallback"/> is given.</summary>
    public int IntIn(string name, int min, int max, int? fallback = null)
    {
        int value = OptionalInt(name) ?? fallback ?? throw new UsageException($"--{name} is required.");
        return value >= min && value <= max ? value : throw new UsageException($"--{name} must be {min}..{max}; got {value}.");
    }

    /// <summary>Refuses options the command does not know, so a typo never passes silently.</summary>
    public void RejectUnknownOptions()
    {
        var unknown = _options.Keys.Concat(_flags).Where(n => !_read.Contains(n)).ToList();
        if (unknown.Count > 0) throw new UsageException($"Unknown option(s) for this command: {string.Join(", ", unknown.Select(u => "--" + u))}.");
    }
}
