using HvOrleans.Simulator;
using HvOrleans.Tests.Infrastructure;

namespace HvOrleans.Tests.Simulation;

[Collection(WriteCountingCollection.Name)]
public sealed class SimulationTests(AzuriteFixture azurite)
{
    private const int Day = 288;

    internal static DemandTrace Trace() => DemandTrace.LoadBitbrains(Repo.Trace);

    private static Task<SimulationResult> RunAsync(Fleet fleet, Func<Task<ISimulationEngine>> engine, bool check = true) =>
        SimulationRunner.RunAsync(fleet, Day, BalancingPolicies.All, engine, seed: 1, checkInvariants: check);

    /// <summary>Every policy's figures, as text: two runs agree exactly or not at all.</summary>
    internal static string Metrics(SimulationResult r) => string.Join('\n', SimulationReport.Json(r).Policies.Select(p =>
        $"{p.Name} {p.UnmetDemandGbH} {p.LaggedUnmetDemandGbH} {p.PagingShare} {p.MeanAssignedMb} {p.MeanDemandMb} {p.HotAddMb} {p.BalloonMb} {p.UnballoonMb}"));

    [Fact]
    public async Task A_day_through_grains_keeps_every_invariant_and_matches_the_policy_code_alone()
    {
        var fleet = Fleet.Build(Trace(), hosts: 4, vmsPerHost: 8, hostMemoryMb: null, seed: 1);
        // --check: every tick, every host within capacity, every VM within [Minimum, Maximum], no guest total shrinking.
        var grains = await RunAsync(fleet, async () => await GrainEngine.StartAsync("memory", null));
        var pure = await RunAsync(fleet, () => Task.FromResult<ISimulationEngine>(new PureEngine()));
        // The metrics are computed from what the grains reported assigning; the same code alone must agree exactly.
        Assert.Equal(Metrics(pure), Metrics(grains));
        Assert.All(grains.Policies, p => Assert.Equal(fleet.VmCount * (long)Day, p.VmTicks));
        Assert.Contains(grains.Policies, p => p.HotAddMb > 0);
        Assert.All(grains.Policies, p => Assert.Equal(fleet.Hosts.Length * (long)Day, p.GrainCalls));
    }

    [Fact]
    public async Task Through_grains_on_Azurite_writes_grow_with_changed_hosts_not_with_the_fleet()
    {
        var fleet = Fleet.Build(Trace(), hosts: 4, vmsPerHost: 8, hostMemoryMb: null, seed: 1);
        var run = await SimulationRunner.RunAsync(fleet, 48, [StaticPolicy.Instance, HyperVPolicy.Instance],
            async () => await GrainEngine.StartAsync("azure", azurite.ConnectionString), seed: 1, checkInvariants: true);
        var (staticRun, hyperv) = (run.Policies[0], run.Policies[1]);
        Assert.Equal(0, staticRun.StorageWrites);                 // nothing changes, nothing is written
        Assert.InRange(hyperv.StorageWrites, 1, fleet.Hosts.Length * 48L);   // at most one write per host per tick
        var pure = await SimulationRunner.RunAsync(fleet, 48, [HyperVPolicy.Instance], () => Task.FromResult<ISimulationEngine>(new PureEngine()), 1, false);
        Assert.Equal(pure.Policies[0].UnmetMbTicks, hyperv.UnmetMbTicks);
        Assert.Equal(pure.Policies[0].AssignedMbTicks, hyperv.AssignedMbTicks);
    }

}

public class SyntheticTraceTests
{
    [Theory]
    [InlineData("steady")]
    [InlineData("diurnal")]
    [InlineData("bursty")]
    [InlineData("leak")]
    public void Synthetic_demand_is_seeded_and_within_the_vms_memory(string kind)
    {
        var a = DemandTrace.Synthetic(kind, vms: 5, ticks: 600, seed: 3);
        var b = DemandTrace.Synthetic(kind, vms: 5, ticks: 600, seed: 3);
        for (int vm = 0; vm < 5; vm++)
        for (int t = 0; t < 600; t++)
        {
            Assert.Equal(a.DemandMb(vm, t), b.DemandMb(vm, t));
            Assert.InRange(a.DemandMb(vm, t), 64, a.ProvisionedMb(vm));
        }
        var other = DemandTrace.Synthetic(kind, vms: 5, ticks: 600, seed: 4);
        Assert.NotEqual(Enumerable.Range(0, 600).Select(t => a.DemandMb(0, t)), Enumerable.Range(0, 600).Select(t => other.DemandMb(0, t)));
    }
}

public class TraceFileTests
{
    private static string Folder(string name, string text, bool gzip = false)
    {
        var dir = Directory.CreateTempSubdirectory("trace-").FullName;
        string path = Path.Combine(dir, gzip ? $"{name}.gz" : name);
        if (gzip)
        {
            using var file = File.Create(path);
            using var zip = new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Fastest);
            zip.Write(System.Text.Encoding.UTF8.GetBytes(text));
        }
        else File.WriteAllText(path, text);
        return dir;
    }

    private const string Header = "Timestamp [s];\tMemory capacity provisioned [KB];\tMemory usage [KB]\n";

    [Fact]
    public void The_memory_only_gzip_format_reads_as_the_original()
    {
        var trace = DemandTrace.LoadBitbrains(Folder("1.csv", Header + "1000;\t4194304.0;\t1048576.0\n1300;\t4194304.0;\t2097152.0\n", gzip: true));
        Assert.Equal([1024, 2048], Enumerable.Range(0, trace.Ticks).Select(t => trace.DemandMb(0, t)));
        Assert.Equal(4096, trace.ProvisionedMb(0));
    }

    [Theory]
    [InlineData("", "1.csv:1: the file is empty; a trace file starts with a header line")]
    [InlineData("Timestamp [s];\tMemory capacity provisioned [KB];\tMemory usage [KB]\n", "1.csv:2: no samples after the header")]
    [InlineData("Timestamp;\tCPU\n1000;\t2\n", "1.csv:1: the header names no 'Memory capacity provisioned' and 'Memory usage' columns")]
    [InlineData("Timestamp [s];\tMemory capacity provisioned [KB];\tMemory usage [KB]\n1000;\t4194304.0;\t1048576.0\n1300;\t4194304.0;\tlots\n", "1.csv:3: 'lots' is not a non-negative number")]
    [InlineData("Timestamp [s];\tMemory capacity provisioned [KB];\tMemory usage [KB]\n1000;\t4194304.0\n", "1.csv:2: 2 fields where the header has 3")]
    public void A_bad_trace_file_is_refused_naming_file_and_line(string text, string expected)
    {
        string dir = Folder("1.csv", text);
        var e = Assert.Throws<HvRuleException>(() => DemandTrace.LoadBitbrains(dir));
        Assert.Equal(("trace-file", $"{Path.Combine(dir, expected)}."), (e.Rule, e.Message));
    }

    [Fact]
    public async Task Hv_sim_runs_the_simulator_program_on_the_repository_trace()
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet", [Repo.HvDll, "sim", "run", "--trace", Repo.Trace, "--hosts", "2",
            "--vms-per-host", "4", "--ticks", "24", "--policies", "hyperv,lean", "--storage", "none", "--json"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var hv = System.Diagnostics.Process.Start(start)!;
        string stdout = await hv.StandardOutput.ReadToEndAsync();
        await hv.WaitForExitAsync();
        Assert.Equal(0, hv.ExitCode);
        var run = System.Text.Json.JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(("bitbrains:bitbrains-rnd-2013-7", 24, 2), (run.GetProperty("trace").GetString(), run.GetProperty("ticks").GetInt32(), run.GetProperty("hosts").GetInt32()));
        Assert.Equal(["hyperv", "lean"], run.GetProperty("policies").EnumerateArray().Select(p => p.GetProperty("name").GetString()));
    }
}

public class SimCommandLineTests
{
    private static async Task<(int Code, string Stderr)> RunAsync(params string[] args)
    {
        var error = new StringWriter();
        int code = await HvOrleans.Cli.ConsoleProgram.RunAsync("hv sim", error,
            async () => { await new SimCommand(TextWriter.Null, TextWriter.Null).RunAsync(new HvOrleans.Cli.CommandLine(args)); return 0; }, "usage");
        return (code, error.ToString());
    }

    [Theory]
    [InlineData("--ticks", "-1", "--ticks must be 1..10000000; got -1.")]
    [InlineData("--ticks", "0", "--ticks must be 1..10000000; got 0.")]
    [InlineData("--hosts", "0", "--hosts must be 1..100000; got 0.")]
    [InlineData("--ticks", "99999999999", "--ticks must be a whole number (at most 2147483647); got '99999999999'.")]
    public async Task A_bad_number_is_a_usage_error_not_a_crash(string option, string value, string message)
    {
        var args = new List<string> { "run", "--synthetic", "steady", "--hosts", "1", "--vms-per-host", "2", "--storage", "none" };
        int at = args.IndexOf(option);
        if (at >= 0) args[at + 1] = value; else args.AddRange([option, value]);
        var (code, stderr) = await RunAsync([.. args]);
        Assert.Equal((2, $"hv sim: {message} (usage)\n"), (code, stderr.ReplaceLineEndings("\n")));
    }

    [Fact]
    public async Task A_header_only_trace_is_refused_naming_the_file_and_line()
    {
        string dir = Directory.CreateTempSubdirectory("trace-").FullName;
        File.WriteAllText(Path.Combine(dir, "1.csv"), "Timestamp [s];\tMemory capacity provisioned [KB];\tMemory usage [KB]\n");
        var (code, stderr) = await RunAsync("run", "--trace", dir, "--hosts", "1", "--vms-per-host", "2", "--storage", "none");
        Assert.Equal((1, $"hv sim: refused [trace-file]: {Path.Combine(dir, "1.csv")}:2: no samples after the header.\n"), (code, stderr.ReplaceLineEndings("\n")));
    }
}

public class SimulationBootTests
{
    [Fact]
    public async Task The_first_tick_is_judged_on_what_booting_in_turn_left_each_vm_not_on_its_startup()
    {
        // Four VMs (Startup 1024, demand 200) on a host with 3584 MB for them: the last boots balloon the first ones,
        // and static policy cannot give every VM its Startup back, so some VM is left as booting left it.
        var trace = new DemandTrace("hand", 300, [.. Enumerable.Repeat(new[] { 200, 200 }, 4)], [8192, 8192, 8192, 8192]);
        var fleet = Fleet.Build(trace, hosts: 1, vmsPerHost: 4, hostMemoryMb: 3584 + Fleet.DefaultReserveMb, seed: 5);
        var host = fleet.Hosts[0];
        var vms = BalancingPass.BootInTurn(host.CapacityMb, [], fleet.Placements(host));
        Assert.Contains(vms, v => v.Memory.AssignedMb < v.Config.StartupMb);   // the case this test is about
        var resized = BalancingPass.Converge(StaticPolicy.Instance, host.CapacityMb, vms, Passes.MaxPerTick).ToDictionary(r => r.VmId, r => r.After);
        Assert.Contains(vms, v => !resized.ContainsKey(v.VmId));
        long heldAfterTick0 = vms.Sum(v => (long)(resized.GetValueOrDefault(v.VmId) ?? v.Memory).AssignedMb);

        var run = await SimulationRunner.RunAsync(fleet, 1, [StaticPolicy.Instance], () => Task.FromResult<ISimulationEngine>(new PureEngine()), 5, true);
        Assert.Equal(heldAfterTick0, run.Policies[0].FleetAssignedMb[0]);
    }
}

/// <summary>The trace, the fleet and the runner alone: no silo, nothing shared, so they run beside everything else.</summary>
public class TraceAndFleetTests
{
    [Fact]
    public async Task Same_seed_gives_the_same_report()
    {
        var trace = DemandTrace.Synthetic("bursty", 6, 200, seed: 7);
        async Task<string> Once() => SimulationTests.Metrics(await SimulationRunner.RunAsync(Fleet.Build(trace, 3, 6, null, 7), 200, BalancingPolicies.All,
            () => Task.FromResult<ISimulationEngine>(new PureEngine()), 7, true));
        Assert.Equal(await Once(), await Once());
    }

    [Fact]
    public void Two_months_combine_into_one_trace_with_every_VM_in_order_as_long_as_the_shorter()
    {
        var (july, august) = (DemandTrace.LoadBitbrains(Repo.Trace), DemandTrace.LoadBitbrains(Repo.TraceAugust));
        Assert.Equal((20, 40), (july.VmCount, august.VmCount));
        var both = DemandTrace.Combine([july, august]);
        Assert.Equal((60, Math.Min(july.Ticks, august.Ticks), "bitbrains:bitbrains-rnd-2013-7+bitbrains:bitbrains-rnd-2013-8"), (both.VmCount, both.Ticks, both.Name));
        foreach (var (vm, source, at) in new[] { (0, july, 0), (19, july, 19), (20, august, 0), (59, august, 39) })
        {
            Assert.Equal(source.ProvisionedMb(at), both.ProvisionedMb(vm));
            Assert.Equal(Enumerable.Range(0, 50).Select(t => source.DemandMb(at, t * 97)), Enumerable.Range(0, 50).Select(t => both.DemandMb(vm, t * 97)));
        }
        var e = Assert.Throws<HvRuleException>(() => DemandTrace.Combine([july, new DemandTrace("hourly", 3600, [[1]], [1024])]));
        Assert.Equal("trace-ticks-agree", e.Rule);
    }

    [Fact]
    public void Bitbrains_trace_is_read_in_seconds_with_zero_samples_carried_forward()
    {
        var dir = Directory.CreateTempSubdirectory("trace-").FullName;
        File.WriteAllText(Path.Combine(dir, "1.csv"), """
            Timestamp [ms];	CPU cores;	CPU capacity provisioned [MHZ];	CPU usage [MHZ];	CPU usage [%];	Memory capacity provisioned [KB];	Memory usage [KB];	x;	x;	x;	x
            1000;	2;	1.0;	1.0;	1.0;	4194304.0;	1048576.0;	0;	0;	0;	0
            1300;	2;	1.0;	1.0;	1.0;	4194304.0;	0.0;	0;	0;	0;	0
            1600;	0;	0.0;	0.0;	0.0;	0.0;	0.0;	0;	0;	0;	0
            1900;	2;	1.0;	1.0;	1.0;	8388608.0;	2097152.0;	0;	0;	0;	0
            """);
        var trace = DemandTrace.LoadBitbrains(dir);
        Assert.Equal(4, trace.Ticks);                              // 900 s of samples at 300 s: seconds, not ms
        Assert.Equal([1024, 1024, 1024, 2048], Enumerable.Range(0, 4).Select(t => trace.DemandMb(0, t)));
        Assert.Equal(8192, trace.ProvisionedMb(0));                // the largest it was given
    }

    [Fact]
    public void Repository_trace_loads_all_twenty_vms_for_a_month()
    {
        var trace = SimulationTests.Trace();
        Assert.Equal(20, trace.VmCount);
        Assert.InRange(trace.Ticks, 8600, 8700);                   // 30 days of 300 s
        Assert.All(Enumerable.Range(0, 20), vm => Assert.True(trace.DemandMb(vm, 100) > 0));
    }

    [Fact]
    public void Config_rule_derives_startup_minimum_and_maximum_from_provisioned_memory()
    {
        Assert.Equal(new VmConfig(1024, 512, 8192), Fleet.ConfigFor(8192));
        Assert.Equal(new VmConfig(512, 256, 2048), Fleet.ConfigFor(2048));
    }
}
