using System.Diagnostics;
using Orleans.Runtime;

namespace HvOrleans.Tools;

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

    /// <summary>The silo port base the local cluster runs with: what 'infra/cluster.sh up' recorded in ports.env.</summary>
    private static int SiloPortBase(string home)
    {
        string file = Path.Combine(home, "ports.env");
        var recorded = File.Exists(file)
            ? File.ReadLines(file).Select(l => l.Split('=', 2)).FirstOrDefault(kv => kv is ["HV_SILO_PORT_BASE", _])?[1]
            : null;
        return int.TryParse(recorded, out int port) ? port
            : throw new HvRuleException("failover-ports", $"{file} names no HV_SILO_PORT_BASE; start the cluster with infra/cluster.sh up.");
    }

    public static Func<IGrainFactory, ClusterConnectionOptions, Task<bool>> Command(CommandLine line, TextWriter output, TextWriter error)
    {
        int kills = line.OptionalInt("kills") ?? 10, seed = line.OptionalInt("seed") ?? 1;
        if (kills is < 1 or > 1000) throw new UsageException($"--kills is 1..1000; got {kills}.");
        int? doubleAfterMs = line.OptionalInt("double-after-ms") is null ? null : line.IntIn("double-after-ms", 0, 60_000);
        int? pauseStorageMs = line.OptionalInt("pause-storage-ms") is null ? null : line.IntIn("pause-storage-ms", 1, 120_000);
        bool json = line.Json;
        return async (grains, _) =>
        {
            await new FailoverProbe(output, error) { DoubleAfterMs = doubleAfterMs, PauseStorageMs = pauseStorageMs }.RunAsync(grains, kills, seed, json);
            return true;
        };
    }

    /// <summary>
    /// A double fault: this long after each SIGKILL (whose silo is restarted at once, and so is joining),
    /// a second silo is SIGKILLed; the figures are then the second silo's grains'.
    /// </summary>
    public int? DoubleAfterMs { get; init; }

    /// <summary>
    /// Azurite SIGSTOPped for this long from the (second) kill on: a failure while storage is away, as
    /// the chaos nemesis makes it. The membership table cannot be written meanwhile, so no death can be declared.
    /// </summary>
    public int? PauseStorageMs { get; init; }

    /// <summary>Azurite (infra/cluster.sh recorded its pid) stopped for <paramref name="ms"/>, then continued.</summary>
    private static async Task PauseStorageAsync(string home, int ms)
    {
        int pid = int.Parse(File.ReadAllText(Path.Combine(home, "azurite.pid")).Trim());
        Process.Start("kill", ["-STOP", $"{pid}"])!.WaitForExit();
        try { await Task.Delay(ms); }
        finally { Process.Start("kill", ["-CONT", $"{pid}"])!.WaitForExit(); }
    }

    /// <summary>SIGKILL of silo <paramref name="silo"/>, by the pid infra/cluster.sh recorded.</summary>
    private static void Kill(string home, int silo) =>
        Process.GetProcessById(int.Parse(File.ReadAllText(Path.Combine(home, $"silo-{silo}.pid")).Trim())).Kill();

    private static Process Restart(int silo) =>
        Process.Start(new ProcessStartInfo(Path.Combine(RepoRoot(), "infra", "cluster.sh"), ["restart", $"{silo}"])
            { RedirectStandardError = true, RedirectStandardOutput = true })!;

    /// <summary>SIGKILLs the silo and times until each of <paramref name="moved"/> answers from another silo.</summary>
    private static async Task<double[]> KillAndTimeAsync(IGrainFactory grains, string home, int silo, int port, List<int> moved)
    {
        var clock = Stopwatch.StartNew();
        Kill(home, silo);
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
        return answered;
    }

    public async Task RunAsync(IGrainFactory grains, int kills, int seed, bool json)
    {
        string home = HvHome.Directory;
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
            Process? joining = null;
            if (DoubleAfterMs is { } afterMs)
            {
                // The first failure: killed and restarted at once; the second comes while it is still joining.
                int first0 = silos.Where(s => s != victim).ElementAt(random.Next(silos.Length - 1));
                Kill(home, first0);
                joining = Restart(first0);
                await Task.Delay(afterMs);
                error.WriteLine($"kill {k + 1}/{kills}: silo {first0} killed and restarting; {afterMs} ms later silo {victim}:");
            }
            var pause = PauseStorageMs is { } pauseMs ? PauseStorageAsync(home, pauseMs) : Task.CompletedTask;
            var answered = await KillAndTimeAsync(grains, home, victim, port, moved);
            await pause;
            first.Add(answered.Min());
            last.Add(answered.Max());
            error.WriteLine($"kill {k + 1}/{kills}: silo {victim} (port {port}, {moved.Count} probes): first moved grain answered after {answered.Min():F0} ms, all after {answered.Max():F0} ms");
            if (joining is not null) await joining.WaitForExitAsync();
            await Restart(victim).WaitForExitAsync();
        }
        var result = new FailoverJson(kills, Math.Round(Percentiles.Of(first, 0.5)), Math.Round(Percentiles.Of(first, 0.99)),
            Math.Round(Percentiles.Of(last, 0.5)), Math.Round(Percentiles.Of(last, 0.99)), Math.Round(last.Max()));
        output.WriteLine(json ? JsonOutput.Serialize(result)
            : $"{kills} kills: first moved grain answering p50 {result.FirstP50Ms:F0} ms, p99 {result.FirstP99Ms:F0} ms; all moved grains p50 {result.AllP50Ms:F0} ms, p99 {result.AllP99Ms:F0} ms, max {result.AllMaxMs:F0} ms");
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "HvOrleans.sln"))) return d.FullName;
        throw new InvalidOperationException("hv is not running from an HvOrleans checkout; restart the silo by hand.");
    }
}
