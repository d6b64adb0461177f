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
    private readonly ConcurrentDictionary<(string State, GrainId Grain), Entry> _entries = new();
    private long _lastETag;

    private sealed record Entry(object? State, string ETag);

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (_entries.TryGetValue((stateName, grainId), out var entry))
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
        while (true)
        {
            bool exists = _entries.TryGetValue(key, out var stored);
            if (stored?.ETag != expectedETag)
                throw new InconsistentStateException($"State of {key.Item2} was written by another activation (stored ETag {stored?.ETag ?? "none"}, this one's {expectedETag ?? "none"}).",
                    stored?.ETag, expectedETag);
            bool replaced = (exists, next) switch
            {
                (false, null) => true,
                (false, _) => _entries.TryAdd(key, next),
                (true, null) => _entries.TryRemove(KeyValuePair.Create(key, stored!)),
                (true, _) => _entries.TryUpdate(key, next, stored!),
            };
            if (replaced) return;   // else another write came between: look again
        }
    }

    private string NewETag() => Interlocked.Increment(ref _lastETag).ToString(CultureInfo.InvariantCulture);
}
