using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Azure.Core;
using Azure.Data.Tables;
using HvOrleans.Grains;
using HvOrleans.Silo.Hosting;
using HvOrleans.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace HvOrleans.Tests.Grains;

/// <summary>The group-commit table storage on Azurite: what a transaction refuses for one grain it refuses for that grain only.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class BatchedTableGrainStorageTests(AzuriteFixture azurite)
{
    private const int Grains = 40, Stale = 5;

    private static readonly OrleansGrainStorageSerializer Serializer =
        new(new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>());

    private BatchedTableGrainStorage NewStorage() => new(new TableServiceClient(azurite.ConnectionString), $"svc-{Guid.NewGuid():N}", Serializer);

    private static HostState State(int memoryMb, int vms = 1)
    {
        var config = new VmConfig(1024, 512, 4096);
        return new(memoryMb, 1024, HostedVms.Of(Enumerable.Range(0, vms).Select(v => KeyValuePair.Create($"vm{v}", new HostedVm(config, VmMemory.Boot(config))))));
    }

    [Fact]
    public async Task A_stale_write_is_refused_and_the_writes_sharing_its_transaction_are_stored()
    {
        var storage = NewStorage();
        var ids = Enumerable.Range(0, Grains).Select(i => GrainId.Create("host", $"h{i}")).ToArray();
        var first = ids.Select(_ => new GrainState<HostState>(State(8192))).ToArray();
        await Task.WhenAll(ids.Select((id, i) => storage.WriteStateAsync("host", id, first[i])));
        var second = ids.Select((_, i) => new GrainState<HostState>(State(16384)) { ETag = first[i].ETag }).ToArray();
        await Task.WhenAll(ids.Select((id, i) => storage.WriteStateAsync("host", id, second[i])));

        // All at once, so that they share transactions: the first five carry the ETag of the first write, since replaced.
        var third = ids.Select((_, i) => new GrainState<HostState>(State(32768)) { ETag = (i < Stale ? first : second)[i].ETag }).ToArray();
        var outcomes = await Task.WhenAll(ids.Select(async (id, i) =>
        {
            try { await storage.WriteStateAsync("host", id, third[i]); return "stored"; }
            catch (InconsistentStateException) { return "refused"; }
        }));
        Assert.Equal([.. Enumerable.Repeat("refused", Stale), .. Enumerable.Repeat("stored", Grains - Stale)], outcomes);

        for (int i = 0; i < Grains; i++)
        {
            var read = new GrainState<HostState>();
            await storage.ReadStateAsync("host", ids[i], read);
            Assert.Equal(i < Stale ? (16384, second[i].ETag) : (32768, third[i].ETag), (read.State!.MemoryMb, read.ETag));
        }
        // A new grain cannot take over a stored state without its ETag either.
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("host", ids[0], new GrainState<HostState>(State(1024))));
    }

    [Fact]
    public async Task A_state_larger_than_one_property_is_split_and_read_back_whole()
    {
        var storage = NewStorage();
        var id = GrainId.Create("host", "big");
        var big = new GrainState<HostState>(State(65536, vms: 3000));
        Assert.InRange(Serializer.Serialize(big.State).ToMemory().Length, 64_001, 960_000);   // more than one 64 KB property holds
        await storage.WriteStateAsync("host", id, big);
        var read = new GrainState<HostState>();
        await storage.ReadStateAsync("host", id, read);
        Assert.Equal(3000, read.State!.Vms.Count);
        Assert.Equal(big.State!.Vms["vm2999"], read.State.Vms["vm2999"]);
    }

    [Fact]
    public async Task Storage_that_was_down_when_the_silo_started_is_used_once_it_is_back()
    {
        // The table endpoint is a port nobody listens on yet; later a forwarder to Azurite opens it.
        int port = Repo.FreePort();
        var tableEndpoint = Regex.Match(azurite.ConnectionString, @"TableEndpoint=http://127\.0\.0\.1:(\d+)/");
        int azuritePort = int.Parse(tableEndpoint.Groups[1].Value);
        string connection = azurite.ConnectionString.Replace($"127.0.0.1:{azuritePort}/", $"127.0.0.1:{port}/");
        var tables = new TableServiceClient(connection, new TableClientOptions { Retry = { MaxRetries = 0, NetworkTimeout = TimeSpan.FromSeconds(2) } });
        var storage = new BatchedTableGrainStorage(tables, $"svc-{Guid.NewGuid():N}", Serializer);
        var id = GrainId.Create("host", "late");

        await Assert.ThrowsAnyAsync<Exception>(() => storage.WriteStateAsync("host", id, new GrainState<HostState>(State(8192))));
        using var forwarder = new TcpForwarder(port, azuritePort);
        var written = new GrainState<HostState>(State(8192));
        await storage.WriteStateAsync("host", id, written);      // the table is created now, not remembered as failed
        var read = new GrainState<HostState>();
        await storage.ReadStateAsync("host", id, read);
        Assert.Equal((8192, written.ETag), (read.State!.MemoryMb, read.ETag));
    }

    /// <summary>Accepts on one loopback port and pipes every connection to another.</summary>
    private sealed class TcpForwarder : IDisposable
    {
        private readonly TcpListener _listener;

        public TcpForwarder(int port, int target)
        {
            _listener = new TcpListener(IPAddress.Loopback, port);
            _listener.Start();
            _ = Task.Run(async () =>
            {
                while (true)
                {
                    TcpClient inbound;
                    try { inbound = await _listener.AcceptTcpClientAsync(); }
                    catch (ObjectDisposedException) { return; }
                    catch (SocketException) { return; }
                    _ = Task.Run(async () =>
                    {
                        using var a = inbound;
                        using var b = new TcpClient();
                        await b.ConnectAsync(IPAddress.Loopback, target);
                        var (sa, sb) = (a.GetStream(), b.GetStream());
                        await Task.WhenAny(sa.CopyToAsync(sb), sb.CopyToAsync(sa));
                    });
                }
            });
        }

        public void Dispose() => _listener.Stop();
    }
}
