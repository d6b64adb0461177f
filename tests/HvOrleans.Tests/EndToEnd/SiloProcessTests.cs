using System.Diagnostics;
using System.Text.Json;
using HvOrleans.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HvOrleans.Tests.EndToEnd;

/// <summary>Real silo processes on Azurite, driven through the real hv console; failures are SIGKILLs.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class SiloProcessTests(AzuriteFixture azurite, ITestOutputHelper log)
{
    private static int Mb(JsonElement e, string name) => e.GetProperty(name).GetInt32();

    private static Dictionary<string, string> BalancerTimes(string period, string reminder) => new()
    {
        ["Hv__Balancer__BalancingPeriod"] = period,
        ["Hv__Balancer__ReminderPeriod"] = reminder,
    };

    [Fact]
    public async Task Three_step_example_through_hv_survives_a_silo_SIGKILL()
    {
        var cluster = new ClusterSettings(azurite.ConnectionString);
        var hv = new HvConsole(cluster);
        var silo = await SiloProcess.StartAsync(cluster);
        try
        {
            await hv.OkAsync("host", "add", "h1", "--memory-mb", "16384", "--reserve-mb", "1024");
            await hv.OkAsync("vm", "create", "vm1", "--host", "h1", "--startup-mb", "2048", "--min-mb", "512", "--max-mb", "8192");
            var boot = await hv.JsonAsync("vm", "start", "vm1");
            Assert.Equal((2048, 2016), (Mb(boot, "assignedMb"), Mb(boot.GetProperty("guest"), "totalMb")));

            await hv.OkAsync("vm", "demand", "vm1", "--mb", "5000");
            await hv.OkAsync("balance", "h1");
            var loaded = await hv.JsonAsync("vm", "show", "vm1");
            Assert.Equal((6016, 5984), (Mb(loaded, "assignedMb"), Mb(loaded.GetProperty("guest"), "totalMb")));   // target 6000: 31 blocks of 128 MB
            var hostBefore = await hv.JsonAsync("host", "show", "h1");

            silo.Kill();
            await silo.DisposeAsync();
            silo = await SiloProcess.StartAsync(cluster);

            Assert.Equal(loaded.ToString(), (await hv.JsonAsync("vm", "show", "vm1")).ToString());
            Assert.Equal(hostBefore.ToString(), (await hv.JsonAsync("host", "show", "h1")).ToString());

            await hv.OkAsync("vm", "demand", "vm1", "--mb", "1000");
            await hv.OkAsync("balance", "h1");
            var idle = await hv.JsonAsync("vm", "show", "vm1");
            Assert.Equal(1638, Mb(idle, "assignedMb"));           // the guest's floor stops the balloon above the 1200 target
            Assert.Equal(5984, Mb(idle.GetProperty("guest"), "totalMb"));
            Assert.Equal(4378, Mb(idle.GetProperty("guest"), "buffCacheMb"));

            await hv.OkAsync("vm", "demand", "vm1", "--mb", "3000");
            await hv.OkAsync("balance", "h1");
            var again = await hv.JsonAsync("vm", "show", "vm1");
            Assert.Equal((3600, 5984, 2416), (Mb(again, "assignedMb"), Mb(again.GetProperty("guest"), "totalMb"), Mb(again, "balloonedMb")));
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_default_policy_predicts_from_a_history_that_survives_a_silo_SIGKILL()
    {
        var cluster = new ClusterSettings(azurite.ConnectionString) { DefaultPolicy = null };   // the product's default
        var hv = new HvConsole(cluster);
        var silo = await SiloProcess.StartAsync(cluster);
        try
        {
            await hv.OkAsync("host", "add", "h1", "--memory-mb", "16384");
            Assert.Equal("predict", (await hv.JsonAsync("host", "show", "h1")).GetProperty("policy").GetString());
            await hv.OkAsync("vm", "create", "vm1", "--host", "h1", "--startup-mb", "2048", "--min-mb", "512", "--max-mb", "8192");
            await hv.OkAsync("vm", "start", "vm1");
            // 6,000 on a full 2,048 MB guest hot-adds demand + 5 % (34 blocks: 6,400); 1,000 balloons it to its floor;
            // then +500: a rise the history keeps, and on a roomy host predict unballoons for it (Hyper-V would give 1,800).
            foreach (int demandMb in new[] { 6000, 1000, 1500 })
            {
                await hv.OkAsync("vm", "demand", "vm1", "--mb", $"{demandMb}");
                await hv.OkAsync("balance", "h1");
            }
            var before = await hv.JsonAsync("vm", "show", "vm1");
            Assert.Equal((6400, 500), (Mb(before, "assignedMb"), Mb(before, "demandRiseMb")));

            silo.Kill();
            await silo.DisposeAsync();
            silo = await SiloProcess.StartAsync(cluster);
            Assert.Equal(before.ToString(), (await hv.JsonAsync("vm", "show", "vm1")).ToString());

            // The same demand again: the rise decays (500 − ⌈500/16⌉ = 468) and still holds the room open.
            await hv.OkAsync("vm", "demand", "vm1", "--mb", "1500");
            await hv.OkAsync("balance", "h1");
            var after = await hv.JsonAsync("vm", "show", "vm1");
            Assert.Equal((6400, 468), (Mb(after, "assignedMb"), Mb(after, "demandRiseMb")));
            // Had the restart lost the history, the same decision would have ballooned the VM to its floor at this demand.
            var forgotten = new BalancingVm("vm1", new VmConfig(2048, 512, 8192), new VmMemory(true, 6400, 6400, 1500, true, RiseMb: 0));
            Assert.Equal(2162, BalancingPass.Run(PredictPolicy.Instance, 15360, [forgotten]).Single().After.AssignedMb);
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }

    [Fact]
    public async Task Balancing_resumes_after_a_SIGKILL_with_no_call_from_anyone()
    {
        var cluster = new ClusterSettings(azurite.ConnectionString);
        var hv = new HvConsole(cluster);
        // First life: the balancer's timer and reminder (which also runs a pass) are effectively off, so the reported demand stays unapplied.
        var silo = await SiloProcess.StartAsync(cluster, BalancerTimes(period: "01:00:00", reminder: "01:00:00"));
        try
        {
            await hv.OkAsync("host", "add", "h1", "--memory-mb", "16384");
            await hv.OkAsync("vm", "create", "vm1", "--host", "h1", "--startup-mb", "2048", "--min-mb", "512", "--max-mb", "8192");
            await hv.OkAsync("vm", "start", "vm1");
            await hv.OkAsync("vm", "demand", "vm1", "--mb", "5000");
            Assert.Equal(2048, Mb(await hv.JsonAsync("vm", "show", "vm1"), "assignedMb"));

            silo.Kill();
            await silo.DisposeAsync();
            silo = await SiloProcess.StartAsync(cluster, BalancerTimes(period: "00:00:01", reminder: "00:00:03"));
            var clock = Stopwatch.StartNew();
            // Only reads from here on: nobody asks for a pass. The host's activation (the read reaches it) and the
            // balancer's reminder each bring the balancer back.
            await Eventually.WaitForAsync(() => hv.JsonAsync("vm", "show", "vm1"), vm => Mb(vm, "assignedMb") == 6016,
                "balancing to resume after the restart (assignedMb 6016)", seconds: 60);
            log.WriteLine($"demand applied {clock.ElapsedMilliseconds} ms after the restarted silo was up (reminder period 3 s)");
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }

    [Fact]
    public async Task Hv_reports_bad_input_and_a_missing_cluster_plainly()
    {
        var cluster = new ClusterSettings(azurite.ConnectionString);
        var hv = new HvConsole(cluster);
        var unreachable = await hv.RunAsync("host", "show", "h1");
        Assert.Equal(3, unreachable.ExitCode);
        // No silo of this cluster ever started: said at once (beside the first connect attempt), not after 10 s.
        Assert.StartsWith($"hv: No silo of cluster '{cluster.Id}' is up: its membership table lists none that is not dead.", unreachable.Stderr);

        await using var silo = await SiloProcess.StartAsync(cluster);
        await hv.OkAsync("host", "add", "h1", "--memory-mb", "16384");
        var bad = await hv.RunAsync("vm", "create", "vm1", "--host", "h1", "--startup-mb", "2048", "--min-mb", "4096", "--max-mb", "8192");
        Assert.Equal(1, bad.ExitCode);
        Assert.Equal("hv: refused [minimum-le-startup]: MinimumMb must not exceed StartupMb; got MinimumMb 4096 > StartupMb 2048.\n", bad.Stderr);
        var unknown = await hv.RunAsync("vm", "show", "vm1");
        Assert.Equal((1, "hv: refused [vm-must-exist]: VM vm1 does not exist; create it with 'hv vm create'.\n"), (unknown.ExitCode, unknown.Stderr));
        var absurd = await hv.RunAsync("vm", "demand", "vm1", "--mb", "99999999999");
        Assert.Equal(2, absurd.ExitCode);
        Assert.Empty((await hv.JsonAsync("host", "show", "h1")).GetProperty("vms").EnumerateArray());
    }
}
