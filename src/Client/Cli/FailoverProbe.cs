using System.Diagnostics;
using Orleans.Runtime;

namespace HvOrleans.Client.Cli;

/// <summary>
/// <c>hv cluster failover [--kills K] [--seed S]</c>, against a local cluster of several silos
/// (<c>infra/cluster.sh up --silos 3</c>): K times, SIGKILL a random silo, then call the probe grains
/// it hosted until every one answers from another silo; report the time from the kill to the first
/// and to the last moved grain answering, and restart the silo with <c>infra/cluster.sh restart</c>.
/// </summary>
public sealed class FailoverProbe(TextWriter output, TextWriter error)
{
    private const int Probes = 200;

    private static async Task AllActiveAsync(IGrainFactory grains, int silos)
    {
        var deadline = Stopwatch.StartNew();
        while ((await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true)).Count < silos)
        {
            Rule.Require(deadline.Elapsed < TimeSpan.FromMinutes(2), "failover-silos-active", $"Not all {silos} silos became active within 2 minutes.");
            await Task.Delay(200);
        }
    }

    /// <summary>As infra/cluster.sh: HV_SILO_PORT_BASE, else what 'up' recorded in ports.env, else 11111.</summary>
    private static int SiloPortBase(string home)
    {
        string? recorded = File.Exists(Path.Combine(home, "ports.env"))
            ? File.ReadLines(Path.Combine(home, "ports.env")).FirstOrDefault(l => l.StartsWith("HV_SILO_PORT_BASE=", StringComparison.Ordinal))?.Split('=')[1]
            : null;
        return int.Parse(Environment.GetEnvironmentVariable("HV_SILO_PORT_BASE") is { Length: > 0 } env ? env : recorded ?? "11111");
    }

    public async Task RunAsync(IGrainFactory grains, int kills, int seed, bool json)
    {
        string home = ClusterConnection.HomeDirectory;
        var silos = Directory.GetFiles(home, "silo-*.pid").Select(f => int.Parse(Path.GetFileNameWithoutExtension(f)[5..])).Order().ToArray();
        Rule.Require(silos.Length >= 2, "failover-needs-silos", $"Failover needs at least 2 silos running (infra/cluster.sh up --silos 3); found {silos.Length} in {home}.");
        var random = new Random(seed);
        var first = new List<double>();
        var last = new List<double>();
        int idlePicks = 0;
        for (int k = 0; k < kills; k++)
        {
            // One failure at a time: a kill while the last restarted silo is still joining is a double
            // fault (its death needs votes the joiner cannot give yet), which this does not measure.
            await AllActiveAsync(grains, silos.Length);
            var where = await Task.WhenAll(Enumerable.Range(0, Probes).Select(i => grains.GetGrain<IProbeGrain>(i).Where()));
            int victim = silos[random.Next(silos.Length)];
            int port = SiloPortBase(home) + victim;
            var moved = Enumerable.Range(0, Probes).Where(i => where[i].Contains($":{port}:")).ToList();
            if (moved.Count == 0)
            {
                Rule.Require(++idlePicks < 20, "failover-ports", $"No probe grain lives on silo port {port}; is HV_SILO_PORT_BASE the cluster's (see {home}/ports.env)?");
                k--;
                continue;
            }
            idlePicks = 0;
            int pid = int.Parse(File.ReadAllText(Path.Combine(home, $"silo-{victim}.pid")).Trim());
            var clock = Stopwatch.StartNew();
            Process.GetProcessById(pid).Kill();
            var answered = new double[moved.Count];
            await Task.WhenAll(moved.Select(async (probe, n) =>
            {
                while (true)
                {
                    try
                    {
                        string now = await grains.GetGrain<IProbeGrain>(probe).Where().WaitAsync(TimeSpan.FromMilliseconds(250));
                        if (!now.Contains($":{port}:")) { answered[n] = clock.Elapsed.TotalMilliseconds; return; }
                    }
                    catch (Exception e) when (e is TimeoutException or OrleansException) { }
                    await Task.Delay(20);
                }
            }));
            first.Add(answered.Min());
            last.Add(answered.Max());
            error.WriteLine($"kill {k + 1}/{kills}: silo {victim} (port {port}, {moved.Count} probes): first moved grain answered after {answered.Min():F0} ms, all after {answered.Max():F0} ms");
            var restart = Process.Start(new ProcessStartInfo(Path.Combine(RepoRoot(), "infra", "cluster.sh"), ["restart", $"{victim}"])
                { RedirectStandardError = true, RedirectStandardOutput = true })!;
            await restart.WaitForExitAsync();
        }
        var result = new
        {
            kills, firstP50Ms = Math.Round(Percentiles.Of(first, 0.5)), firstP99Ms = Math.Round(Percentiles.Of(first, 0.99)),
            allP50Ms = Math.Round(Percentiles.Of(last, 0.5)), allP99Ms = Math.Round(Percentiles.Of(last, 0.99)), allMaxMs = Math.Round(last.Max()),
        };
        output.WriteLine(json ? JsonViews.Serialize(result)
            : $"{kills} kills: first moved grain answering p50 {result.firstP50Ms:F0} ms, p99 {result.firstP99Ms:F0} ms; all moved grains p50 {result.allP50Ms:F0} ms, p99 {result.allP99Ms:F0} ms, max {result.allMaxMs:F0} ms");
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "HvOrleans.sln"))) return d.FullName;
        throw new InvalidOperationException("hv is not running from an HvOrleans checkout; restart the silo by hand.");
    }
}
