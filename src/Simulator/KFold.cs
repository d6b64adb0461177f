using System.Text;

namespace HvOrleans.Simulator;

/// <summary>
/// <c>hv sim kfold</c>: judges <see cref="PredictPolicy"/> on VMs its parameters were not chosen on.
/// The trace's VM series are dealt into k folds (series i to fold i mod k, so every fold holds VMs of
/// every month given). For each fold, the other folds are the training data: every faithful peer runs
/// there, and of <c>predict</c>'s parameter grid the one with the lowest lagged unmet demand that holds
/// at most 2 % more memory than the training data's best peer is chosen — the acceptance rule, applied
/// where choosing is allowed. The held-out fold then runs the peers and the chosen <c>predict</c>.
/// Fleets are built as <c>hv sim run</c> builds them (<see cref="Fleet.Build"/>), with the pure engine.
/// </summary>
public sealed class KFold(TextWriter output, TextWriter error)
{
    public const string Help = """
          hv sim kfold --trace DIR[,DIR…] --hosts N --vms-per-host M [--folds K] [--ticks T]
                       [--guest-kernel current|legacy] [--seed S] [--json]
             the k-fold over VM groups of docs/POLICIES.md: predict's parameters chosen on k−1 folds, judged on the k-th
        """;

    /// <summary>The policies HvOrleans compares itself with: all but its own (lean, predict).</summary>
    public static readonly IReadOnlyList<IBalancingPolicy> Peers =
        [StaticPolicy.Instance, HyperVPolicy.Instance, SqueezedPolicy.Instance, MomPolicy.Instance, ProxmoxPolicy.Instance, EsxiPolicy.Instance];

    /// <summary>predict's parameters tried on the training folds. One rise leaves no idle memory to spread, so it needs no free share.</summary>
    public static readonly IReadOnlyList<PredictPolicy> Grid =
        [new(1, 0), .. from rises in new[] { 2.0, 4, 8, 16, 32, 64 } from free in new[] { 0, 10, 20, 30 } select new PredictPolicy(rises, free)];

    public const double MemoryAllowance = 1.02;

    public async Task RunAsync(CommandLine line, DemandTrace trace, int seed, GuestKernel kernel)
    {
        int hosts = line.IntIn("hosts", 1, 1_000), vmsPerHost = line.IntIn("vms-per-host", 1, 1_000);
        int folds = line.IntIn("folds", 2, Math.Max(2, trace.VmCount), fallback: 5);
        int ticks = Math.Min(line.IntIn("ticks", 1, 10_000_000, fallback: trace.Ticks), trace.Ticks);
        bool json = line.Json;
        line.RejectUnknownOptions();
        var report = await RunAsync(trace, folds, hosts, vmsPerHost, ticks, seed, kernel, step => error.Write($"\r{step}".PadRight(60)));
        error.Write("\r".PadRight(79) + "\r");
        output.Write(json ? JsonOutput.Serialize(report) + "\n" : Table(report));
    }

    public static async Task<KFoldJson> RunAsync(DemandTrace trace, int folds, int hosts, int vmsPerHost, int ticks, int seed, GuestKernel kernel,
        Action<string>? progress = null)
    {
        Rule.Require(trace.VmCount >= folds, "kfold-vms", $"{folds} folds need at least {folds} VM series; the trace has {trace.VmCount}.");
        var results = new List<KFoldFoldJson>();
        for (int f = 0; f < folds; f++)
        {
            var test = Enumerable.Range(0, trace.VmCount).Where(v => v % folds == f).ToList();
            var train = Enumerable.Range(0, trace.VmCount).Where(v => v % folds != f).ToList();
            progress?.Invoke($"fold {f + 1}/{folds}: training on {train.Count} VM series…");
            var trainFleet = Fleet.Build(trace.Subset(train, $"train {f}"), hosts, vmsPerHost, null, seed, kernel: kernel);
            var trainPeer = (await RunAllAsync(trainFleet, ticks, Peers, seed)).MinBy(p => p.LaggedUnmetMbTicks)!;
            var tried = await RunAllAsync(trainFleet, ticks, Grid, seed);
            int chosen = Choose(tried, trainPeer.MeanAssignedMb * MemoryAllowance);

            progress?.Invoke($"fold {f + 1}/{folds}: judging on {test.Count} held-out VM series…");
            var testFleet = Fleet.Build(trace.Subset(test, $"fold {f}"), hosts, vmsPerHost, null, seed, kernel: kernel);
            var testRuns = await RunAllAsync(testFleet, ticks, [.. Peers, Grid[chosen]], seed);
            var (testPeers, predict) = (testRuns.Take(Peers.Count).ToList(), testRuns[^1]);
            var (peer, hyperv) = (testPeers.MinBy(p => p.LaggedUnmetMbTicks)!, testPeers.Single(p => p.Name == HyperVPolicy.Instance.Name));
            int tickSeconds = trace.TickSeconds;
            double Gbh(PolicyResult p) => Math.Round(p.LaggedUnmetDemandGbH(tickSeconds), 1);
            results.Add(new(f, train.Count, test.Count, Grid[chosen].MostRises, Grid[chosen].KeepFreePercent,
                trainPeer.Name, Gbh(tried[chosen]), Gbh(trainPeer),
                peer.Name, Gbh(peer), Math.Round(peer.MeanAssignedMb, 1), Gbh(predict), Math.Round(predict.MeanAssignedMb, 1),
                Gbh(hyperv), Math.Round(hyperv.MeanAssignedMb, 1),
                Ratio(predict.LaggedUnmetMbTicks, peer.LaggedUnmetMbTicks), Ratio(predict.MeanAssignedMb, peer.MeanAssignedMb),
                Ratio(predict.LaggedUnmetMbTicks, hyperv.LaggedUnmetMbTicks), Ratio(predict.MeanAssignedMb, hyperv.MeanAssignedMb)));
        }
        progress?.Invoke($"choosing on all {trace.VmCount} VM series…");
        var allFleet = Fleet.Build(trace, hosts, vmsPerHost, null, seed, kernel: kernel);
        var allPeer = (await RunAllAsync(allFleet, ticks, Peers, seed)).MinBy(p => p.LaggedUnmetMbTicks)!;
        var final = Grid[Choose(await RunAllAsync(allFleet, ticks, Grid, seed), allPeer.MeanAssignedMb * MemoryAllowance)];
        // Pooled: every fold's fleet is the same size, so sums over folds weigh each VM-tick alike.
        double predictSum = results.Sum(r => r.TestPredictLaggedGbH), peerSum = results.Sum(r => r.TestPeerLaggedGbH);
        var pooled = new KFoldPooledJson(Math.Round(predictSum, 1), Math.Round(peerSum, 1), Ratio(predictSum, peerSum),
            Ratio(results.Average(r => r.TestPredictMeanAssignedMb), results.Average(r => r.TestPeerMeanAssignedMb)),
            results.Count(r => r.LaggedVsPeer <= 0.8 && r.MemoryVsPeer <= MemoryAllowance));
        return new KFoldJson(trace.Name, folds, hosts, vmsPerHost, kernel.ToString().ToLowerInvariant(), ticks, seed, results, pooled,
            new KFoldChoiceJson(final.MostRises, final.KeepFreePercent),
            Spread(results.Select(r => r.LaggedVsPeer)), Spread(results.Select(r => r.MemoryVsPeer)),
            Spread(results.Select(r => r.LaggedVsHyperV)), Spread(results.Select(r => r.MemoryVsHyperV)));
    }

    /// <summary>The grid entry with the lowest lagged unmet demand within the memory allowed (then the least memory); the leanest if none is within it.</summary>
    public static int Choose(IReadOnlyList<PolicyResult> tried, double mostMeanAssignedMb)
    {
        var within = Enumerable.Range(0, tried.Count).Where(i => tried[i].MeanAssignedMb <= mostMeanAssignedMb).ToList();
        return within.Count > 0
            ? within.OrderBy(i => tried[i].LaggedUnmetMbTicks).ThenBy(i => tried[i].MeanAssignedMb).First()
            : Enumerable.Range(0, tried.Count).MinBy(i => tried[i].MeanAssignedMb);
    }

    /// <summary>Each policy on the same fleet with the pure engine, both cores busy (runs share nothing).</summary>
    private static async Task<PolicyResult[]> RunAllAsync(Fleet fleet, int ticks, IReadOnlyList<IBalancingPolicy> policies, int seed)
    {
        var results = new PolicyResult[policies.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, policies.Count), async (i, _) =>
        {
            var run = await SimulationRunner.RunAsync(fleet, ticks, [policies[i]], () => Task.FromResult<ISimulationEngine>(new PureEngine()), seed, false);
            results[i] = run.Policies[0];
        });
        return results;
    }

    private static double Ratio(double a, double b) => b == 0 ? (a == 0 ? 1 : double.PositiveInfinity) : Math.Round(a / b, 3);

    internal static SpreadJson Spread(IEnumerable<double> values)
    {
        var v = values.ToArray();
        double mean = v.Average();
        double sd = Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / Math.Max(1, v.Length - 1));
        return new(Math.Round(mean, 3), Math.Round(sd, 3), v.Min(), v.Max());
    }

    public static string Table(KFoldJson r)
    {
        var text = new StringBuilder($"{r.Trace}: {r.Folds} folds, {r.Hosts} hosts × {r.VmsPerHost} VMs per fold's fleet, guest kernel {r.GuestKernel}, {r.Ticks} ticks, seed {r.Seed}\n");
        text.Append($"{"fold",4} {"chosen (rises, free %)",22} {"best peer",9} {"peer lagged",11} {"peer MB",8} {"predict lagged",14} {"predict MB",10} {"vs peer",8} {"MB vs peer",10} {"vs hyperv",9}\n");
        foreach (var f in r.Results)
            text.Append($"{f.Fold,4} {$"{f.MostRises}, {f.KeepFreePercent}",22} {f.TestBestPeer,9} {f.TestPeerLaggedGbH,11:F1} {f.TestPeerMeanAssignedMb,8:F0} {f.TestPredictLaggedGbH,14:F1} {f.TestPredictMeanAssignedMb,10:F0} {f.LaggedVsPeer,8:F3} {f.MemoryVsPeer,10:F3} {f.LaggedVsHyperV,9:F3}\n");
        var p = r.Pooled;
        text.Append($"pooled over folds: predict {p.PredictLaggedGbH:F1} GB·h vs each fold's best peer {p.PeerLaggedGbH:F1} GB·h = {p.LaggedVsPeer:F3}, memory {p.MemoryVsPeer:F3}; folds ≥ 20 % below their best peer within +2 % memory: {p.FoldsMeetingGoal} of {r.Folds}\n");
        text.Append($"lagged unmet vs best peer: mean {r.LaggedVsPeer.Mean:F3} ± {r.LaggedVsPeer.StandardDeviation:F3} (min {r.LaggedVsPeer.Min:F3}, max {r.LaggedVsPeer.Max:F3}); memory vs best peer: mean {r.MemoryVsPeer.Mean:F3} ± {r.MemoryVsPeer.StandardDeviation:F3}\n");
        text.Append($"lagged unmet vs hyperv:    mean {r.LaggedVsHyperV.Mean:F3} ± {r.LaggedVsHyperV.StandardDeviation:F3} (min {r.LaggedVsHyperV.Min:F3}, max {r.LaggedVsHyperV.Max:F3}); memory vs hyperv:    mean {r.MemoryVsHyperV.Mean:F3} ± {r.MemoryVsHyperV.StandardDeviation:F3}\n");
        text.Append($"chosen on all the data (the balancer's default): rises ≤ {r.ChosenOnAll.MostRises}, keep {r.ChosenOnAll.KeepFreePercent} % free\n");
        return text.ToString();
    }
}
