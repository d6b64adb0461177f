using HvOrleans.Tests.Infrastructure;
using Orleans.Configuration;
using Xunit.Abstractions;

namespace HvOrleans.Tests.EndToEnd;

/// <summary>
/// The silo's grain storage commits many grains' writes in one table transaction (BatchedTableGrainStorage).
/// What it acknowledged must survive a SIGKILL of the silo: 40 hosts take demand reports as fast as
/// they can (each persisted before it is answered, so concurrent hosts share transactions), the silo
/// process is killed in the middle, and a new silo must find, for every VM, the last demand it
/// acknowledged — or a later one whose answer the kill cut off — and never an older one.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class GroupCommitDurabilityTests(AzuriteFixture azurite, ITestOutputHelper log)
{
    private const int Hosts = 40, VmsPerHost = 5;

    [Fact]
    public async Task A_SIGKILL_of_the_silo_loses_no_acknowledged_write()
    {
        var cluster = new ClusterSettings(azurite.ConnectionString);
        var silo = await SiloProcess.StartAsync(cluster);
        var config = new VmConfig(1024, 512, 8192);
        var acknowledged = new int[Hosts, VmsPerHost];
        var sent = new int[Hosts, VmsPerHost];
        long answers = 0;
        try
        {
            await using (var client = await ClusterClient.ConnectAsync(cluster,
                c => c.Configure<MessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(5))))
            {
                await Task.WhenAll(Enumerable.Range(0, Hosts).Select(async h =>
                {
                    var host = client.Grains.GetGrain<IHostGrain>($"gc-h{h}");
                    await host.Add(65536, 1024);
                    await host.Provision([.. Enumerable.Range(0, VmsPerHost).Select(v => new VmPlacement($"gc-h{h}-v{v}", config, 600))]);
                    for (int v = 0; v < VmsPerHost; v++) acknowledged[h, v] = sent[h, v] = 600;
                }));

                using var stop = new CancellationTokenSource();
                var writers = Enumerable.Range(0, Hosts).Select(h => Task.Run(async () =>
                {
                    var host = client.Grains.GetGrain<IHostGrain>($"gc-h{h}");
                    for (int k = 0; !stop.IsCancellationRequested; k++)
                    {
                        int v = k % VmsPerHost, demandMb = sent[h, v] + 1;
                        sent[h, v] = demandMb;                    // from here it may be stored, answered or not
                        try { await host.ReportDemand($"gc-h{h}-v{v}", demandMb); }
                        catch { return; }                         // the silo is gone: this answer never came
                        acknowledged[h, v] = demandMb;
                        Interlocked.Increment(ref answers);
                    }
                })).ToArray();
                await Task.Delay(TimeSpan.FromSeconds(3));
                silo.Kill();
                long answeredBeforeKill = Interlocked.Read(ref answers);
                stop.Cancel();
                await Task.WhenAll(writers);
                log.WriteLine($"{answeredBeforeKill} writes acknowledged before the SIGKILL");
                Assert.True(answeredBeforeKill > 200, $"only {answeredBeforeKill} writes were acknowledged: the test did not load the storage");
            }
            await silo.DisposeAsync();
            silo = await SiloProcess.StartAsync(cluster);

            await using var reader = await ClusterClient.ConnectAsync(cluster);
            int inFlightStored = 0;
            for (int h = 0; h < Hosts; h++)
            for (int v = 0; v < VmsPerHost; v++)
            {
                var stored = (await reader.Grains.GetGrain<IHostGrain>($"gc-h{h}").GetVm($"gc-h{h}-v{v}")).Snapshot.Memory.DemandMb;
                Assert.InRange(stored, acknowledged[h, v], sent[h, v]);
                if (stored > acknowledged[h, v]) inFlightStored++;
            }
            log.WriteLine($"{inFlightStored} VMs hold a demand whose write committed but whose answer the kill cut off");
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }
}
