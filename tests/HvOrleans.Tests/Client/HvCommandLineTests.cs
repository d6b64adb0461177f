using HvOrleans.Client.Cli;

namespace HvOrleans.Tests.Client;

/// <summary>
/// hv's command line against each class of bad input, with no cluster at all: a bad command line is
/// refused before hv connects anywhere, with exit code 2 and one line naming what is wrong.
/// </summary>
public sealed class HvCommandLineTests
{
    private static async Task<(int Code, string Stderr)> RunAsync(params string[] args)
    {
        var error = new StringWriter();
        int code = await new HvCli(TextWriter.Null, error).RunAsync(args);
        return (code, error.ToString().ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData("Required argument 'host' missing for command: 'add'.", "host add", "host", "add")]
    [InlineData("The host id is empty.", "host show", "host", "show", "")]
    [InlineData("Required argument missing for option: '--memory-mb'.", "host add", "host", "add", "h1", "--memory-mb")]
    [InlineData("--memory-mb must be a whole number (at most 2147483647); got '99999999999'.", "host add", "host", "add", "h1", "--memory-mb", "99999999999")]
    [InlineData("--memory-mb must be a whole number (at most 2147483647); got '8G'.", "host add", "host", "add", "h1", "--memory-mb=8G")]
    [InlineData("Option '--max-mb' is required.", "vm create", "vm", "create", "v1", "--host", "h1", "--startup-mb", "1024", "--min-mb", "512")]
    [InlineData("--host is empty.", "vm create", "vm", "create", "v1", "--host", "", "--startup-mb", "1024", "--min-mb", "512", "--max-mb", "2048")]
    [InlineData("Option '--mb' is required.", "vm demand", "vm", "demand", "v1")]
    [InlineData("Argument 'maybe' not recognized. Must be one of:", "vm set", "vm", "set", "v1", "--guest-agent", "maybe")]
    [InlineData("Option '--seed' is required.", "disk write", "disk", "write", "v1", "--offset", "0", "--length", "512")]
    [InlineData("--offset must be a whole number (at most 9223372036854775807); got '-'.", "disk write", "disk", "write", "v1", "--offset", "-", "--length", "512", "--seed", "1")]
    [InlineData("Give exactly one of --vm and --host.", "backup list", "backup", "list")]
    [InlineData("Option '--to' is required.", "backup restore", "backup", "restore", "v1@job")]
    [InlineData("Required argument 'job' missing for command: 'cancel'.", "backup cancel", "backup", "cancel")]
    [InlineData("Unrecognized command or argument '--bogus'.", "host show", "host", "show", "h1", "--bogus", "1")]
    [InlineData("Give the command after '--': hv vm exec <vm> -- free -m", "vm exec", "vm", "exec", "v1")]
    [InlineData("Give the command after '--': hv vm exec <vm> -- free -m", "vm exec", "vm", "exec", "v1", "--")]
    [InlineData("--timeout-s must be 1..25; got 60.", "vm exec", "vm", "exec", "v1", "--timeout-s", "60", "--", "true")]
    [InlineData("Unrecognized command or argument 'nonsense'.", "", "nonsense")]
    [InlineData("Unrecognized command or argument 'reboot'.", "vm", "vm", "reboot", "v1")]
    [InlineData("--days must be 1..3650; got 0.", "tls init", "tls", "init", "--days", "0")]
    [InlineData("--dir /etc/hostname/tls cannot hold the certificates: Could not find a part of the path '/etc/hostname/tls'.", "tls init", "tls", "init", "--dir", "/etc/hostname/tls")]
    [InlineData("--count must be 0..2147483647; got -1.", "watch host", "watch", "host", "h1", "--count=-1")]
    public async Task A_bad_command_line_is_refused_before_connecting_with_the_commands_usage(string message, string command, params string[] args)
    {
        var (code, stderr) = await RunAsync(args);
        string path = command.Length == 0 ? "hv" : $"hv {command}";
        Assert.Equal(2, code);
        Assert.Contains($"hv: {message}", stderr);
        Assert.StartsWith("hv: ", stderr);
        Assert.Contains($"\nUsage: {path} ", stderr);
        Assert.EndsWith($"Run '{path} --help' for its options and an example.\n", stderr);
    }

    public static TheoryData<string> Commands() => [.. new HvCli(TextWriter.Null, TextWriter.Null).Tree.All().Select(c => CommandTree.PathOf(c))];

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Every_command_has_help_with_an_example(string path)
    {
        var output = new StringWriter();
        int code = await new HvCli(output, TextWriter.Null).RunAsync([.. path.Split(' ').Skip(1), "--help"]);
        string help = output.ToString();
        Assert.Equal(0, code);
        Assert.Contains($"Usage:\n  {path}", help.ReplaceLineEndings("\n"));
        var examples = help[(help.IndexOf("\nExample", StringComparison.Ordinal) + 1)..].Split('\n').Skip(1).Where(l => l.Trim().Length > 0).ToList();
        Assert.NotEmpty(examples);
        Assert.All(examples, e => Assert.StartsWith("  hv ", e.Replace("source <(hv", "hv")));
    }

    /// <summary>Each example of every command hv runs itself, as the words a shell would pass.</summary>
    public static TheoryData<string, string> Examples()
    {
        var tree = new HvCli(TextWriter.Null, TextWriter.Null).Tree;
        var data = new TheoryData<string, string>();
        foreach (var command in tree.All().Where(c => c.Action is not null && c.TreatUnmatchedTokensAsErrors))
        foreach (var example in tree.ExamplesOf(command).Where(e => e.StartsWith("hv ", StringComparison.Ordinal)))
            data.Add(CommandTree.PathOf(command), example.Split(" > ")[0]);
        return data;
    }

    /// <summary>Splits like a shell for the examples' needs: spaces, and single quotes around one word.</summary>
    private static string[] Words(string line) =>
        [.. System.Text.RegularExpressions.Regex.Matches(line, "'([^']*)'|(\\S+)").Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value).Skip(1)];

    [Theory]
    [MemberData(nameof(Examples))]
    public void Every_example_in_the_help_is_a_valid_command_line(string path, string example)
    {
        var parse = new HvCli(TextWriter.Null, TextWriter.Null).Tree.Root.Parse(Words(example));
        Assert.Empty(parse.Errors.Select(e => e.Message));
        Assert.Equal(path, CommandTree.PathOf(parse.CommandResult.Command));
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task A_bad_flag_on_any_of_hvs_own_commands_exits_2_with_its_usage(string path, string example)
    {
        // The example is valid (above); one unknown flag after the command's words makes it a usage error.
        int depth = path.Split(' ').Length - 1;
        var args = Words(example);
        var (code, stderr) = await RunAsync([.. args.Take(depth), "--no-such-flag", .. args.Skip(depth)]);
        Assert.Equal(2, code);
        Assert.Contains("hv: Unrecognized command or argument '--no-such-flag'.", stderr);
        Assert.Contains($"\nUsage: {path}", stderr);
    }

    [Fact]
    public void Options_take_their_value_after_a_space_or_an_equals_sign()
    {
        var tree = new HvCli(TextWriter.Null, TextWriter.Null).Tree;
        var spaced = tree.Root.Parse(["vm", "create", "v1", "--host", "h1", "--startup-mb", "1024", "--min-mb", "512", "--max-mb", "4096", "--disk-gb", "1", "--disk-gb", "4"]);
        var equals = tree.Root.Parse(["vm", "create", "v1", "--host=h1", "--startup-mb=1024", "--min-mb=512", "--max-mb=4096", "--disk-gb=1", "--disk-gb=4"]);
        Assert.Empty(spaced.Errors);
        Assert.Empty(equals.Errors);
        foreach (var name in new[] { "--host", "--startup-mb", "--min-mb", "--max-mb" })
            Assert.Equal(spaced.GetResult(name)!.Tokens.Select(t => t.Value), equals.GetResult(name)!.Tokens.Select(t => t.Value));
        Assert.Equal(["1", "4"], equals.GetResult("--disk-gb")!.Tokens.Select(t => t.Value));
    }

    [Theory]
    [InlineData("hv vm cr", "create")]
    [InlineData("hv backup ", "start show cancel list verify restore bench --help")]
    [InlineData("hv vm create v1 --host h1 --st", "--startup-mb")]
    [InlineData("hv watch host h1 --", "--interval-s --count --json --help")]
    [InlineData("hv ba", "balance backup")]
    public async Task The_bash_completion_script_completes_commands_and_options(string line, string expected)
    {
        var output = new StringWriter();
        Assert.Equal(0, await new HvCli(output, TextWriter.Null).RunAsync(["completion", "bash"]));
        string script = Path.Combine(Directory.CreateTempSubdirectory("hv-completion-").FullName, "hv.bash");
        await File.WriteAllTextAsync(script, output.ToString());
        var words = line.Split(' ');
        var bash = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        bash.ArgumentList.Add("-c");
        bash.ArgumentList.Add($"source {script}; COMP_WORDS=({string.Join(' ', words.Select(w => $"'{w}'"))}); COMP_CWORD={words.Length - 1}; _hv; echo \"${{COMPREPLY[*]}}\"");
        using var process = System.Diagnostics.Process.Start(bash)!;
        string completions = (await process.StandardOutput.ReadToEndAsync()).Trim();
        await process.WaitForExitAsync();
        Assert.Equal((0, expected), (process.ExitCode, completions));
    }
}

/// <summary>The drills' arguments are checked before they connect, as hv's are.</summary>
public sealed class DrillCommandLineTests
{
    [Theory]
    [InlineData("--minutes is a positive number; got '0'.", "chaos", "run", "--minutes", "0")]
    [InlineData("--minutes is a positive number; got 'ten'.", "chaos", "run", "--minutes", "ten")]
    [InlineData("--kills is 1..1000; got 0.", "cluster", "failover", "--kills", "0")]
    [InlineData("--double-after-ms must be 0..60000; got -5.", "cluster", "failover", "--double-after-ms", "-5")]
    [InlineData("--pause-storage-ms must be 1..120000; got 0.", "cluster", "failover", "--pause-storage-ms", "0")]
    [InlineData("--vms is 1..200 and --rounds 1..100; got 0 and 2.", "backup", "bench", "--vms", "0")]
    [InlineData("--vms must be a whole number (at most 2147483647); got '1e9'.", "backup", "bench", "--vms", "1e9")]
    public void A_bad_drill_argument_is_a_usage_error(string message, params string[] args)
    {
        var line = new HvOrleans.Cli.CommandLine(args);
        var e = Assert.Throws<HvOrleans.Cli.UsageException>(() => (line.Words[0], line.Words[1]) switch
        {
            ("chaos", _) => HvOrleans.Tools.ChaosWorkload.Command(line, TextWriter.Null, TextWriter.Null),
            ("cluster", _) => HvOrleans.Tools.FailoverProbe.Command(line, TextWriter.Null, TextWriter.Null),
            _ => HvOrleans.Tools.BackupBench.Command(line, TextWriter.Null, TextWriter.Null),
        });
        Assert.Equal(message, e.Message);
    }
}
