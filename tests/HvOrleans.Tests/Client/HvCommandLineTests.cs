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
    [InlineData("Missing host id.", "host", "add")]
    [InlineData("The host id is empty.", "host", "show", "")]
    [InlineData("--memory-mb needs a value.", "host", "add", "h1", "--memory-mb")]
    [InlineData("--memory-mb must be a whole number (at most 2147483647); got '99999999999'.", "host", "add", "h1", "--memory-mb", "99999999999")]
    [InlineData("--memory-mb must be a whole number (at most 2147483647); got '8G'.", "host", "add", "h1", "--memory-mb", "8G")]
    [InlineData("--max-mb is required.", "vm", "create", "v1", "--host", "h1", "--startup-mb", "1024", "--min-mb", "512")]
    [InlineData("--host is empty.", "vm", "create", "v1", "--host", "", "--startup-mb", "1024", "--min-mb", "512", "--max-mb", "2048")]
    [InlineData("--mb is required.", "vm", "demand", "v1")]
    [InlineData("--guest-agent is on or off; got 'maybe'.", "vm", "set", "v1", "--guest-agent", "maybe")]
    [InlineData("--seed is required.", "disk", "write", "v1", "--offset", "0", "--length", "512")]
    [InlineData("--offset must be a whole number; got '-'.", "disk", "write", "v1", "--offset", "-", "--length", "512", "--seed", "1")]
    [InlineData("Give exactly one of --vm and --host.", "backup", "list")]
    [InlineData("--to <newVm> is required.", "backup", "restore", "v1@job")]
    [InlineData("Missing job id.", "backup", "cancel")]
    [InlineData("Unknown option(s) for this command: --bogus.", "host", "show", "h1", "--bogus", "1")]
    [InlineData("Give the command after '--': hv vm exec <vm> -- free -m", "vm", "exec", "v1")]
    [InlineData("Give the command after '--': hv vm exec <vm> -- free -m", "vm", "exec", "v1", "--")]
    [InlineData("--timeout-s must be 1..25; got 60.", "vm", "exec", "v1", "--timeout-s", "60", "--", "true")]
    [InlineData("Unknown command 'nonsense'.", "nonsense")]
    [InlineData("Unknown command 'vm reboot'.", "vm", "reboot", "v1")]
    [InlineData("--days is 1..3650; got 0.", "tls", "init", "--days", "0")]
    [InlineData("--dir /etc/hostname/tls cannot hold the certificates: Could not find a part of the path '/etc/hostname/tls'.", "tls", "init", "--dir", "/etc/hostname/tls")]
    public async Task A_bad_command_line_is_refused_before_connecting(string message, params string[] args)
    {
        var (code, stderr) = await RunAsync(args);
        Assert.Equal((2, $"hv: {message} (see 'hv help')\n"), (code, stderr));
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
