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
        new(memoryMb, 1024, HostedVms.Empty.Add("vm1", new HostedVm(Config, VmMemory.Boot(Config))));

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
        // A mutable state (the fleet directory changes its set in place) is copied on the way in and out.
        var storage = NewStorage();
        var written = new GrainState<FleetDirectory>(new FleetDirectory { Hosts = { "h1" } });
        await storage.WriteStateAsync("fleet", Host, written);
        written.State!.Hosts.Add("h2");   // after the write: the store must not see it
        var a = new GrainState<FleetDirectory>();
        var b = new GrainState<FleetDirectory>();
        await storage.ReadStateAsync("fleet", Host, a);
        await storage.ReadStateAsync("fleet", Host, b);
        Assert.NotSame(a.State, b.State);                 // a grain changing its state cannot change what another read
        Assert.Equal(["h1"], a.State!.Hosts);
        a.State.Hosts.Add("h3");
        Assert.Equal(["h1"], b.State!.Hosts);
        Assert.Equal(written.ETag, a.ETag);

        await storage.ClearStateAsync("fleet", Host, a);
        var after = new GrainState<FleetDirectory>();
        await storage.ReadStateAsync("fleet", Host, after);
        Assert.Equal((false, (string?)null), (after.RecordExists, after.ETag));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("fleet", Host, b));   // b's ETag is gone
    }

    [Fact]
    public async Task An_immutable_state_is_kept_as_written_not_copied()
    {
        // HostState is [Immutable] (every change is a new record), so sharing it is safe and saves a deep copy
        // of its VM dictionary per write.
        var storage = NewStorage();
        var written = new GrainState<HostState>(State(8192));
        await storage.WriteStateAsync("host", Host, written);
        var read = new GrainState<HostState>();
        await storage.ReadStateAsync("host", Host, read);
        Assert.Same(written.State, read.State);
        Assert.Equal(written.ETag, read.ETag);
    }
}
