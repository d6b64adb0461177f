using System.Diagnostics;
using System.Text.RegularExpressions;
using HvOrleans.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HvOrleans.Tests.EndToEnd;

/// <summary>The CI-sized chaos run: 3 silo processes, Azurite, a workload, SIGKILLs every 12 s and one 5 s Azurite pause.</summary>
[Collection(ChaosCollection.Name)]
public sealed class ChaosTests(ITestOutputHelper log)
{
    [Fact]
    public async Task Two_minutes_of_chaos_lose_nothing_acknowledged_and_break_no_invariant()
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(Repo.Root, "infra", "chaos.sh"), "--minutes", "2", "--seed", "3", "--kill-every", "12"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.Environment["HV_CONFIGURATION"] = Repo.Configuration;
        using var chaos = Process.Start(start)!;
        var stdout = chaos.StandardOutput.ReadToEndAsync();
        var stderr = chaos.StandardError.ReadToEndAsync();
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        await chaos.WaitForExitAsync(bound.Token);
        string output = await stdout;
        log.WriteLine(output);
        log.WriteLine(await stderr);
        Assert.True(chaos.ExitCode == 0, $"chaos.sh exited {chaos.ExitCode}:\n{output}");
        Assert.Matches(new Regex(@"0 violation\(s\)"), output);
        int kills = int.Parse(Regex.Match(output, @"nemesis: (\d+) SIGKILLs, (\d+) Azurite pauses").Groups[1].Value);
        Assert.True(kills >= 5, $"only {kills} SIGKILLs:\n{output}");
        Assert.Contains("1 Azurite pauses", output);
        Assert.Matches(new Regex(@"\d+ backup jobs \((\d+) verified in [\d.]+ s; slowest VM [\d.]+ s"), output);
        // The checker saw every persisted state (not only the last), and no live silo was voted dead.
        var audit = Regex.Match(output, @"(\d+) audited writes of (\d+) grains \((\d+) host states checked");
        Assert.True(audit.Success && int.Parse(audit.Groups[3].Value) > 100, $"no state audit:\n{output}");
        Assert.Contains(", 0 false evictions", output);
    }
}
