using Orleans.Storage;

namespace HvOrleans.Grains.Storage;

/// <summary>
/// A grain's state read and written straight through its storage provider, for a grain that writes on
/// most calls (a host balanced every tick). Orleans' own <c>[PersistentState]</c> bridge queues every
/// operation behind a forced yield and a lock and starts a tracing activity per write — a quarter of a
/// simulated host tick (docs/BENCHMARKS.md). A grain turn runs one operation at a time, so the queue buys
/// a host nothing. The grain reads the state itself when it activates; a failed operation is logged as
/// the bridge logs it and thrown as the provider threw it (an ETag conflict stays an
/// <see cref="InconsistentStateException"/>).
/// </summary>
public sealed class DirectGrainState<T>(string stateName, GrainId grainId, IGrainStorage storage, ILogger logger) : IPersistentState<T>
    where T : new()
{
    private readonly GrainState<T> _grainState = new(new T());

    public T State
    {
        get => _grainState.State!;
        set => _grainState.State = value;
    }

    public string? Etag => _grainState.ETag;
    public bool RecordExists => _grainState.RecordExists;

    public Task ReadStateAsync() => RunAsync(static (s, name, id, state) => s.ReadStateAsync(name, id, state), "read");
    public Task WriteStateAsync() => RunAsync(static (s, name, id, state) => s.WriteStateAsync(name, id, state), "write");
    public Task ClearStateAsync() => RunAsync(static (s, name, id, state) => s.ClearStateAsync(name, id, state), "clear");

    /// <summary>One storage operation, logged if it fails (static delegates: nothing allocated per write).</summary>
    private async Task RunAsync(Func<IGrainStorage, string, GrainId, GrainState<T>, Task> operation, string operationName)
    {
        try { await operation(storage, stateName, grainId, _grainState); }
        catch (Exception e) { Log(e, operationName); throw; }
    }

    private void Log(Exception e, string operation)
    {
        if (e is InconsistentStateException)   // another activation wrote first: the caller re-reads and its caller retries
            logger.LogWarning("Storage {Operation} of state {StateName} for grain {GrainId} refused: {Reason}", operation, stateName, grainId, e.Message);
        else
            logger.LogError(e, "Storage {Operation} of state {StateName} for grain {GrainId} failed", operation, stateName, grainId);
    }
}
