using Orleans.Concurrency;

namespace HvOrleans.Grains;

/// <summary>
/// The fleet's directory. Reentrant, and writes by group commit: the fleet simulator adds thousands
/// of hosts at once, and one write per host of a growing set would cost O(n²) bytes; instead every
/// registration that arrives while a write is in flight shares the next one, and each caller
/// returns only once a write that holds its change has succeeded.
/// </summary>
[Reentrant]
public sealed class FleetGrain([PersistentState("fleet", GrainStorage.Name)] IPersistentState<FleetDirectory> state) : Grain, IFleetGrain
{
    private Task _written = Task.CompletedTask;
    private Task? _queued;

    public Task RegisterHost(string hostId)
    {
        ResourceNames.Validate("host", hostId);
        return state.State.Hosts.Add(hostId) || _written.IsFaulted ? PersistAsync() : _queued ?? _written;
    }

    public Task<IReadOnlyList<string>> Hosts() => Task.FromResult<IReadOnlyList<string>>([.. state.State.Hosts]);

    public Task BackupStarted(string jobId)
    {
        var jobs = state.State.Jobs;
        if (jobs.Contains(jobId)) return _written.IsFaulted ? PersistAsync() : _queued ?? _written;
        jobs.Insert(0, jobId);
        if (jobs.Count > FleetDirectory.RecentJobs) jobs.RemoveRange(FleetDirectory.RecentJobs, jobs.Count - FleetDirectory.RecentJobs);
        return PersistAsync();
    }

    public Task<IReadOnlyList<string>> RecentBackupJobs() => Task.FromResult<IReadOnlyList<string>>([.. state.State.Jobs]);

    /// <summary>The next write: every change made before it starts is in it.</summary>
    private Task PersistAsync() => _queued ??= WriteNextAsync(_written);

    private async Task WriteNextAsync(Task previous)
    {
        // Yield first, so _queued is set before this method clears it.
        await Task.Yield();
        try
        {
            await previous;
        }
        catch
        {
            // That write's callers saw its failure; this write carries their changes again.
        }
        _queued = null;
        _written = state.WriteStateAsync();
        await _written;
    }
}
