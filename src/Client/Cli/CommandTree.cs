using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Text;

namespace HvOrleans.Client.Cli;

/// <summary>
/// How hv's commands are declared on System.CommandLine: every command has a description and at
/// least one example (printed under its <c>--help</c>), ids are validated while parsing, and a leaf
/// resolves its grain calls from the parse before anything connects, so a typo fails in milliseconds
/// with exit code 2 and the command's usage.
/// </summary>
public sealed class CommandTree
{
    private readonly Dictionary<Command, string[]> _examples = [];

    public CommandTree(string name, string description, string[] examples)
    {
        Root = new Command(name, description) { new HelpOption() };
        _examples[Root] = examples;
        var help = Root.Options.OfType<HelpOption>().Single();
        help.Action = new HelpWithExamples((HelpAction)help.Action!, this);
    }

    public Command Root { get; }

    /// <summary>Every command of the tree, depth first (the root first).</summary>
    public IEnumerable<Command> All() => Walk(Root);

    private static IEnumerable<Command> Walk(Command command) => [command, .. command.Subcommands.SelectMany(Walk)];

    public IReadOnlyList<string> ExamplesOf(Command command) => _examples.GetValueOrDefault(command) ?? [];

    public Command Group(string name, string description, string[] examples, params Command[] children)
    {
        var group = new Command(name, description);
        foreach (var c in children) group.Subcommands.Add(c);
        _examples[group] = examples;
        return group;
    }

    public Command Leaf(string name, string description, string[] examples, Symbol[] symbols, Func<ParseResult, CancellationToken, Task<int>> action)
    {
        var leaf = new Command(name, description);
        foreach (var symbol in symbols)
        {
            if (symbol is Argument argument) leaf.Arguments.Add(argument);
            else leaf.Options.Add((Option)symbol);
        }
        _examples[leaf] = examples;
        leaf.SetAction(action);
        return leaf;
    }

    /// <summary>Whether the parse asks for help: help is shown even when the rest of the line is incomplete.</summary>
    public static bool IsHelp(ParseResult parse) => parse.Action is HelpWithExamples;

    /// <summary>The words that name <paramref name="command"/> from the root: <c>hv vm show</c>.</summary>
    public static string PathOf(Command command)
    {
        var names = new List<string>();
        for (Symbol? s = command; s is Command c; s = c.Parents.FirstOrDefault())
            names.Insert(0, c.Name);
        return string.Join(' ', names);
    }

    /// <summary>One line: the command's path, its arguments and its required options, then <c>[options]</c>.</summary>
    public static string UsageOf(Command command)
    {
        var usage = new StringBuilder(PathOf(command));
        if (command.Subcommands.Count > 0 && command.Action is null) usage.Append(" <command>");
        foreach (var a in command.Arguments.Where(a => !a.Hidden))
            usage.Append(a.Arity.MaximumNumberOfValues > 1 ? $" [{(a.Name == "command" ? "-- " : "")}<{a.Name}>...]" : a.Arity.MinimumNumberOfValues == 0 ? $" [<{a.Name}>]" : $" <{a.Name}>");
        foreach (var o in command.Options.Where(o => o.Required))
            usage.Append($" {o.Name} <{o.HelpName ?? o.Name.TrimStart('-')}>");
        if (command.Options.Any(o => !o.Required) || command.Parents.Any()) usage.Append(" [options]");
        return usage.ToString();
    }

    /// <summary>What a refused command line prints after the reason: the usage line and where the help is.</summary>
    public static string UsageHint(Command command) =>
        $"Usage: {UsageOf(command)}\nRun '{PathOf(command)} --help' for its options and an example.";

    /// <summary>System.CommandLine's help, then the command's examples.</summary>
    private sealed class HelpWithExamples(HelpAction inner, CommandTree tree) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parse)
        {
            inner.Invoke(parse);
            var command = parse.CommandResult.Command;
            var output = parse.InvocationConfiguration.Output;
            output.WriteLine(tree.ExamplesOf(command).Count == 1 ? "Example:" : "Examples:");
            foreach (var example in tree.ExamplesOf(command)) output.WriteLine($"  {example}");
            output.WriteLine();
            return ExitCodes.Ok;
        }
    }

    /// <summary>
    /// A bash completion script for the tree: commands by position, then the leaf's options. Static
    /// (no process per Tab), so it stays instant; regenerate it after upgrading hv.
    /// </summary>
    public string BashCompletion()
    {
        string fn = "_" + Root.Name.Replace('-', '_');
        var paths = All().Skip(1).Select(c => PathOf(c)[Root.Name.Length..]).ToList();
        var script = new StringBuilder($$"""
            # bash completion for {{Root.Name}}: source <({{Root.Name}} completion bash)
            {{fn}}() {
              local cur="${COMP_WORDS[COMP_CWORD]}" path="" w i words=""
              for ((i = 1; i < COMP_CWORD; i++)); do
                w="${COMP_WORDS[i]}"
                [[ "$w" == -* ]] && continue
                case "$path $w" in
                  {{string.Join("|", paths.Select(p => $"\"{p}\""))}}) path="$path $w" ;;
                esac
              done
              case "$path" in

            """);
        foreach (var command in All())
        {
            var words = command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name)
                .Concat(command.Options.Where(o => !o.Hidden).Select(o => o.Name)).Append("--help").Distinct();
            script.Append($"    \"{PathOf(command)[Root.Name.Length..]}\") words=\"{string.Join(' ', words)}\" ;;\n");
        }
        script.Append($$"""
              esac
              COMPREPLY=($(compgen -W "$words" -- "$cur"))
            }
            complete -o default -F {{fn}} {{Root.Name}}

            """);
        return script.ToString();
    }
}
