using System.Diagnostics;

namespace HvOrleans.Simulator;

/// <summary><c>hv sim run</c>: a fleet driven by a trace, balanced by each policy in turn, on the same hosts and demand.</summary>
public sealed class SimCommand(TextWriter output, TextWriter error)
{
    public const string Help = """
          hv sim run (--trace DIR[,DIR…] | --synthetic steady|diurnal|bursty|leak) --hosts N --vms-per-host M
                     [--ticks T] [--policy P | --policies P1,P2,... | --policies all] [--storage none|memory|azure]
                     [--host-memory-mb N] [--trace-vms FROM..TO] [--guest-kernel current|legacy] [--vm-sizing provisioned|observed]
                     [--seed S] [--density] [--check] [--out DIR] [--json]
             storage none = the policy code alone; memory/azure = real host grains in a silo this process hosts
             (azure uses the local cluster's Azurite). Policies: static, hyperv, squeezed, mom, proxmox, esxi (the peers); lean, predict (ours).
        """;

    public async Task RunAsync(CommandLine line)
    {
        string command = line.Word(0, "'run' or 'kfold'");
        if (command is not ("run" or "kfold")) throw new UsageException("The simulator's commands are 'hv sim run' and 'hv sim kfold'.");
        int seed = line.IntIn("seed", 0, int.MaxValue, fallback: 1);
        var trace = LoadTrace(line, seed);
        if (command == "kfold")
        {
            await new KFold(output, error).RunAsync(line, trace, seed, Kernel(line));
            return;
        }
        int hosts = line.IntIn("hosts", 1, 100_000), vmsPerHost = line.IntIn("vms-per-host", 1, 10_000);
        int ticks = Math.Min(line.IntIn("ticks", 1, 10_000_000, fallback: trace.Ticks), trace.Ticks);
        var policies = Policies(line);
        string storage = line.Text("storage") ?? "memory";
        if (storage is not ("none" or "memory" or "azure")) throw new UsageException($"--storage is none, memory or azure; got '{storage}'.");
        int? hostMemoryMb = line.OptionalInt("host-memory-mb") is null ? null : line.IntIn("host-memory-mb", VmConfig.PageMb, 64 * 1_048_576);
        bool density = line.Flag("density"), check = line.Flag("check"), json = line.Json;
        var kernel = Kernel(line);
        var sizing = (line.Text("vm-sizing") ?? "provisioned") switch
        {
            "provisioned" => VmSizing.Provisioned,
            "observed" => VmSizing.Observed,
            var other => throw new UsageException($"--vm-sizing is provisioned or observed; got '{other}'."),
        };
        string? outDir = line.Text("out");
        line.RejectUnknownOptions();

        var fleet = Fleet.Build(trace, hosts, vmsPerHost, hostMemoryMb, seed, kernel: kernel, sizing: sizing);
        string? connection = storage == "azure" ? HvOrleans.Connection.ClusterConnection.Load().ConnectionString : null;
        Func<Task<ISimulationEngine>> engine = storage == "none"
            ? () => Task.FromResult<ISimulationEngine>(new PureEngine())
            : async () => await GrainEngine.StartAsync(storage, connection);
        var result = await SimulationRunner.RunAsync(fleet, ticks, policies, engine, seed, check, Progress(ticks));
        error.Write("\r".PadRight(79) + "\r");
        if (density)
        {
            int densityHosts = Math.Min(hosts, 20);
            foreach (var p in result.Policies)
            {
                error.Write($"\rdensity search: {p.Name}…".PadRight(60));
                p.DensityVmsPerHost = await SimulationRunner.DensityAsync(trace, BalancingPolicies.ByName(p.Name), densityHosts, fleet.Hosts[0].MemoryMb, ticks, seed, kernel: kernel, sizing: sizing);
            }
            error.Write("\r".PadRight(79) + "\r");
        }
        if (outDir is not null) SimulationReport.Write(result, outDir);
        output.Write(json ? JsonOutput.Serialize(SimulationReport.Json(result)) + "\n" : SimulationReport.Table(result));
        if (outDir is not null && !json) output.WriteLine($"report: {Path.GetFullPath(Path.Combine(outDir, "report.html"))}");
    }

    private static DemandTrace LoadTrace(CommandLine line, int seed)
    {
        // --trace A,B (or --trace A --trace B): the folders' VMs side by side, e.g. two months of the trace.
        var folders = line.Texts("trace").SelectMany(t => t.Split(',', StringSplitOptions.RemoveEmptyEntries)).ToList();
        string? synthetic = line.Text("synthetic");
        if ((folders.Count == 0) == (synthetic is null)) throw new UsageException("Give exactly one of --trace DIR[,DIR…] and --synthetic KIND.");
        var trace = folders.Count > 0
            ? DemandTrace.Combine(folders.Select(f => Directory.Exists(f) ? DemandTrace.LoadBitbrains(f) : throw new UsageException($"--trace {f}: no such folder.")).ToList())
            : DemandTrace.Synthetic(synthetic!, 20, line.IntIn("ticks", 1, 10_000_000, fallback: 2016), seed);
        if (line.Text("trace-vms") is { } range)
        {
            var parts = range.Split("..");
            if (parts.Length != 2 || !int.TryParse(parts[0], out int from) || !int.TryParse(parts[1], out int to) || from < 0 || to > trace.VmCount || from >= to)
                throw new UsageException($"--trace-vms is FROM..TO within 0..{trace.VmCount}; got '{range}'.");
            trace = trace.Slice(from, to);
        }
        return trace;
    }

    private static GuestKernel Kernel(CommandLine line) => (line.Text("guest-kernel") ?? "current") switch
    {
        "current" => GuestKernel.Current,
        "legacy" => GuestKernel.Legacy,
        var other => throw new UsageException($"--guest-kernel is current or legacy; got '{other}'."),
    };

    private static IReadOnlyList<IBalancingPolicy> Policies(CommandLine line)
    {
        string names = line.Text("policies") ?? line.Text("policy") ?? "hyperv";
        return names == "all" ? BalancingPolicies.All : names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(BalancingPolicies.ByName).ToList();
    }

    private Action<string, int> Progress(int ticks)
    {
        var clock = Stopwatch.StartNew();
        long last = -1000;
        return (policy, tick) =>
        {
            if (tick != ticks && clock.ElapsedMilliseconds - last < (Console.IsErrorRedirected ? 5000 : 200)) return;
            last = clock.ElapsedMilliseconds;
            int filled = (int)(30L * tick / ticks);
            error.Write($"\r{policy,-9} [{new string('#', filled)}{new string('.', 30 - filled)}] {tick}/{ticks} ticks");
        };
    }
}
