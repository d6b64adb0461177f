using HvOrleans.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HvOrleans.Tests.EndToEnd;

/// <summary>The operator's hv keeps working while silos die under it: its commands are retried and safe to repeat.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class OperatorRetryTests(AzuriteFixture azurite, ITestOutputHelper log)
{
    [Fact]
    public async Task Hv_commands_issued_while_a_silo_hangs_and_dies_succeed_and_apply_once()
    {
        var cluster = new ClusterSettings(azurite.ConnectionString);
        var hv = new HvConsole(cluster);
        var (ports, silos) = await TwoSilosWithARunningVmAsync(cluster, hv, siloSettings: null);
        try
        {
            int retried = 0;
            // Each round: a silo hangs (SIGSTOP) just before or while an hv command runs, and is then killed
            // and replaced; the command must succeed, once, whichever silo held its grain or gateway.
            int[] freezeAfterMs = [0, 500, 900, 0];
            for (int round = 0; round < freezeAfterMs.Length; round++)
            {
                int victim = round % 2, demandMb = 2000 + 500 * round;
                var command = hv.RunAsync("vm", "demand", "vm1", "--mb", $"{demandMb}");
                await Task.Delay(freezeAfterMs[round]);
                silos[victim].Freeze();
                var (code, _, stderr) = await command;
                Assert.True(code == 0, $"round {round}: hv exited {code}: {stderr}");
                retried += stderr.Split('\n').Count(l => l.Contains("retrying", StringComparison.Ordinal));
                log.WriteLine($"round {round}: silo {victim} frozen after {freezeAfterMs[round]} ms; {stderr.Trim()}");

                silos[victim].Kill();
                await silos[victim].DisposeAsync();
                silos[victim] = await SiloProcess.StartAsync(cluster, null, ports[victim].Item1, ports[victim].Item2);
                await Eventually.WaitForAsync(async () => (await hv.JsonAsync("cluster", "show")).EnumerateArray()
                    .Count(s => s.GetProperty("status").GetString() == "Active"), active => active == 2, "both silos active", seconds: 60);
                Assert.Equal(demandMb, (await hv.JsonAsync("vm", "show", "vm1")).GetProperty("demandMb").GetInt32());
            }
            // How many commands needed hv's own retry varies with where the frozen silo's grains and hv's gateway
            // were (recorded runs: 3 of 4, and 0 of 4 when Orleans' forwarding absorbed every fault); what must hold
            // is that each command succeeded once. The retry itself is pinned by OperationRetryTests.
            log.WriteLine($"{retried} retries over {freezeAfterMs.Length} rounds");
        }
        finally
        {
            foreach (var silo in silos) await silo.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_call_the_cluster_cannot_answer_in_time_is_made_again_and_applied_once()
    {
        var cluster = new ClusterSettings(azurite.ConnectionString);
        // hv bounds each call to 1 s; the silos take ~2–3 s to vote a frozen one dead (1 s probes), so a call
        // to a grain on a frozen silo can only succeed by being made again after the grain moved. hv goes
        // through the other silo's gateway only (Hv:Client:Gateways): through the frozen one, its connect
        // would wait for the vote, and by then the grain has moved and the call needs no second try.
        var clientSettings = new Dictionary<string, string> { ["Hv__Client__ResponseTimeout"] = "00:00:01" };
        var hv = new HvConsole(cluster, clientSettings);
        var slowProbes = new Dictionary<string, string> { ["Hv__ProbeTimeout"] = "00:00:01" };
        var (ports, silos) = await TwoSilosWithARunningVmAsync(cluster, hv, slowProbes);
        try
        {
            int holder;
            await using (var observer = await ClusterClient.ConnectAsync(cluster))
            {
                var host = observer.Grains.GetGrain<IHostGrain>("h1");
                await host.GetInfo();
                var where = (await observer.Grains.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics()).Single(g => g.GrainId == host.GetGrainId());
                holder = Array.FindIndex(ports, p => p.Item1 == where.SiloAddress.Endpoint.Port);
            }
            var throughTheOther = new HvConsole(cluster, new Dictionary<string, string>(clientSettings)
            {
                ["Hv__Client__Gateways__0"] = $"127.0.0.1:{ports[1 - holder].Item2}",
            });
            silos[holder].Freeze();
            var (code, _, stderr) = await throughTheOther.RunAsync("vm", "demand", "vm1", "--mb", "3000");
            log.WriteLine(stderr);
            Assert.True(code == 0, $"hv exited {code}: {stderr}");
            Assert.Contains("hv: the cluster did not answer (", stderr);
            Assert.Contains("retrying in", stderr);
            Assert.Equal(3000, (await throughTheOther.JsonAsync("vm", "show", "vm1")).GetProperty("demandMb").GetInt32());
        }
        finally
        {
            foreach (var silo in silos) await silo.DisposeAsync();
        }
    }

    /// <summary>Two silo processes (silo, gateway ports) of one cluster, and host h1 with VM vm1 running on it.</summary>
    private static async Task<((int Silo, int Gateway)[] Ports, SiloProcess[] Silos)> TwoSilosWithARunningVmAsync(
        ClusterSettings cluster, HvConsole hv, IReadOnlyDictionary<string, string>? siloSettings)
    {
        var ports = new[] { (cluster.SiloPort, cluster.GatewayPort), (Repo.FreePort(), Repo.FreePort()) };
        var silos = new SiloProcess[2];
        for (int i = 0; i < 2; i++) silos[i] = await SiloProcess.StartAsync(cluster, siloSettings, ports[i].Item1, ports[i].Item2);
        await hv.OkAsync("host", "add", "h1", "--memory-mb", "16384");
        await hv.OkAsync("vm", "create", "vm1", "--host", "h1", "--startup-mb", "1024", "--min-mb", "512", "--max-mb", "8192");
        await hv.OkAsync("vm", "start", "vm1");
        return (ports, silos);
    }
}
