using System.Collections.Immutable;
using HvOrleans.Grains;
using HvOrleans.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace HvOrleans.Tests.Grains;

/// <summary>The one-silo in-memory grain storage keeps a store's promises: copies, not aliases, and ETags checked.</summary>
public class ProcessMemoryGrainStorageTests
{
    private static readonly GrainId Host = GrainId.Create("host", "h1");
    private static readonly VmConfig Config = new(1024, 512, 4096);

    private static ProcessMemoryGrainStorage NewStorage() =>
        new(new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<DeepCopier>());

    private static HostState State(int memoryMb) =>
        new(memoryMb, 1024, ImmutableDictionary<string, HostedVm>.Empty.Add("vm1", new HostedVm(Config, VmMemory.Boot(Config))));

    [Fact]
    public async Task A_write_from_a_stale_etag_is_refused_and_changes_nothing()
    {
        var storage = NewStorage();
        var first = new GrainState<HostState>(State(8192));
        await storage.WriteStateAsync("host", Host, first);
        var stale = new GrainState<HostState> { State = State(4096), ETag = first.ETag };
        var newer = new GrainState<HostState>();
        await storage.ReadStateAsync("host", Host, newer);
        newer.State = State(16384);
        await storage.WriteStateAsync("host", Host, newer);

        // 'stale' still carries the first write's ETag: another activation wrote since.
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("host", Host, stale));
        var read = new GrainState<HostState>();
        await storage.ReadStateAsync("host", Host, read);
        Assert.Equal((16384, true, newer.ETag), (read.State!.MemoryMb, read.RecordExists, read.ETag));

        // A new grain (no ETag) cannot overwrite a stored state either.
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("host", Host, new GrainState<HostState>(State(2048))));
    }

    [Fact]
    public async Task Read_and_write_hand_out_copies_and_clear_forgets()
    {
        var storage = NewStorage();
        var written = new GrainState<HostState>(State(8192));
        await storage.WriteStateAsync("host", Host, written);
        var a = new GrainState<HostState>();
        var b = new GrainState<HostState>();
        await storage.ReadStateAsync("host", Host, a);
        await storage.ReadStateAsync("host", Host, b);
        Assert.NotSame(a.State, b.State);                 // a grain replacing its state cannot change what another read
        Assert.NotSame(written.State, a.State);
        Assert.Equal(written.ETag, a.ETag);

        await storage.ClearStateAsync("host", Host, a);
        var after = new GrainState<HostState>();
        await storage.ReadStateAsync("host", Host, after);
        Assert.Equal((false, (string?)null), (after.RecordExists, after.ETag));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("host", Host, b));   // b's ETag is gone
    }
}
