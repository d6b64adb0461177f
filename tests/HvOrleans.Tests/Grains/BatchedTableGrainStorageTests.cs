using System.Collections.Immutable;
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
        return new(memoryMb, 1024, Enumerable.Range(0, vms).ToImmutableDictionary(v => $"vm{v}", _ => new HostedVm(config, VmMemory.Boot(config))));
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
}
