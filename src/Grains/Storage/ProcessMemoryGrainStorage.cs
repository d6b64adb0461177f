using System.Collections.Concurrent;
using System.Globalization;
using Orleans.Serialization;
using Orleans.Storage;

namespace HvOrleans.Grains.Storage;

/// <summary>
/// Grain state in this process's memory, for the one-silo clusters of <c>Hv:Storage=Memory</c> (localhost
/// clustering, test clusters, the simulator's own silo). Orleans' memory provider spreads states over
/// storage grains so that several silos can share them, and so serializes every write and sends it in a
/// message; one silo needs neither. A write stores a copy made by Orleans' deep copier — records marked
/// immutable (a host's VMs) are shared, not copied — and ETags are checked as a real store checks them,
/// so a stale activation's write is refused here as it is on Azure.
/// </summary>
public sealed class ProcessMemoryGrainStorage(DeepCopier copier) : IGrainStorage
{
    // One slot per grain state, made once: a write swaps the slot's entry with a compare-and-swap, so writes of
    // different grains never meet on a lock (a dictionary update takes one of a few shared locks, and in the
    // simulator's silo a thread holding one was often descheduled while the other waited for it).
    private readonly ConcurrentDictionary<(string State, GrainId Grain), Slot> _slots = new();
    private long _lastETag;

    private sealed record Entry(object? State, string ETag);

    private sealed class Slot
    {
        public Entry? Entry;
    }

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (_slots.TryGetValue((stateName, grainId), out var slot) && Volatile.Read(ref slot.Entry) is { } entry)
            (grainState.State, grainState.ETag, grainState.RecordExists) = (copier.Copy((T)entry.State!), entry.ETag, true);
        else
            (grainState.ETag, grainState.RecordExists) = (null, false);
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var next = new Entry(copier.Copy(grainState.State), NewETag());
        Replace((stateName, grainId), grainState.ETag, next);
        (grainState.ETag, grainState.RecordExists) = (next.ETag, true);
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        Replace((stateName, grainId), grainState.ETag, next: null);
        (grainState.ETag, grainState.RecordExists) = (null, false);
        return Task.CompletedTask;
    }

    /// <summary>Stores <paramref name="next"/> (null: removes) if the stored ETag is still <paramref name="expectedETag"/>.</summary>
    private void Replace((string, GrainId) key, string? expectedETag, Entry? next)
    {
        var slot = _slots.GetOrAdd(key, static _ => new Slot());   // a lookup without a lock once the slot exists
        var stored = Volatile.Read(ref slot.Entry);
        if (stored?.ETag != expectedETag || Interlocked.CompareExchange(ref slot.Entry, next, stored) != stored)
        {
            var now = Volatile.Read(ref slot.Entry);
            throw new InconsistentStateException($"State of {key.Item2} was written by another activation (stored ETag {now?.ETag ?? "none"}, this one's {expectedETag ?? "none"}).",
                now?.ETag, expectedETag);
        }
    }

    private string NewETag() => Interlocked.Increment(ref _lastETag).ToString(CultureInfo.InvariantCulture);
}
