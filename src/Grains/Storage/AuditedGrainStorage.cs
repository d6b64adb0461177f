using HvOrleans.Diagnostics;
using Orleans.Storage;

namespace HvOrleans.Grains.Storage;

/// <summary>
/// Wraps the grain storage and records every write — before it (the state that may become
/// persisted) and after it (stored, or refused on an ETag conflict) — as JSON lines, one file per
/// silo process. Off by default (<c>Hv:AuditDirectory</c>); the chaos checker reads the files to check
/// the invariants at every persisted state, not only the last one, and that no write was accepted
/// over a newer one (two stored writes from the same ETag would be a lost update).
/// </summary>
public sealed class AuditedGrainStorage(IGrainStorage inner, StateAuditLog log) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ReadStateAsync(stateName, grainId, grainState);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        string? before = grainState.ETag;
        long write = log.Record(new StateAuditLine(StateAuditLine.Intent, grainId.ToString(), before, null, StateAuditLog.Describe(grainState.State)));
        try
        {
            await inner.WriteStateAsync(stateName, grainId, grainState);
        }
        catch (InconsistentStateException)
        {
            log.Record(new StateAuditLine(StateAuditLine.Conflict, grainId.ToString(), before, null, null, write));
            throw;
        }
        catch
        {
            log.Record(new StateAuditLine(StateAuditLine.Failed, grainId.ToString(), before, null, null, write));
            throw;
        }
        log.Record(new StateAuditLine(StateAuditLine.Stored, grainId.ToString(), before, grainState.ETag, null, write));
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ClearStateAsync(stateName, grainId, grainState);

    public void Participate(ISiloLifecycle lifecycle) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(lifecycle);
}

/// <summary>An append-only JSON-lines file, flushed per line so that a SIGKILL loses nothing already recorded.</summary>
public sealed class StateAuditLog(string directory) : IDisposable
{
    private readonly StreamWriter _file = Open(directory);
    private long _sequence;

    private static StreamWriter Open(string directory)
    {
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, $"audit-{Environment.ProcessId}-{Guid.NewGuid():N}.jsonl");
        return new StreamWriter(new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
    }

    public long Record(StateAuditLine line)
    {
        lock (_file)
        {
            long sequence = ++_sequence;
            _file.WriteLine((line with { Sequence = sequence, At = DateTimeOffset.UtcNow }).ToJson());
            return sequence;
        }
    }

    public void Dispose() => _file.Dispose();

    /// <summary>What the checker needs of a state: for a host, its ledger and each VM's limits and memory.</summary>
    public static AuditedHost? Describe(object? state) => state switch
    {
        HostState host when host.Exists => new AuditedHost(host.MemoryMb, host.ReserveMb, host.Vms.Select(v => new AuditedVm(
            v.Key, v.Value.Config.MinimumMb, v.Value.Config.MaximumMb, v.Value.Memory.AssignedMb, v.Value.Memory.GuestTotalMb, v.Value.Memory.Running)).ToList()),
        _ => null,
    };
}
