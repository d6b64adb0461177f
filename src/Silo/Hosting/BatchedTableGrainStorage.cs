using System.Collections.Concurrent;
using Azure;
using Azure.Data.Tables;
using Orleans.Storage;

namespace HvOrleans.Silo.Hosting;

/// <summary>
/// Grain state in one Azure table, written by group commit: the writes that arrive while a partition's
/// transaction is in flight go together in its next one — an entity-group transaction of up to 100
/// entities, each replaced only if its ETag is still the one the grain read (added only if absent).
/// A write returns when its transaction has committed, so what a grain was told is stored is stored;
/// a transaction is all or nothing, so a refused entity (ETag conflict) is answered and the others
/// are sent again without it. Why: Azure Table storage, and Azurite's one thread above all, is bound by
/// requests, not entities (~750 single writes/s on Azurite against ~3,700 entities/s in transactions).
/// States spread over <see cref="Partitions"/> partitions per service by a hash of the grain's id; a
/// state is stored in 64 KB binary properties, up to the entity's 1 MB.
/// </summary>
public sealed class BatchedTableGrainStorage(TableServiceClient service, string serviceId, IGrainStorageSerializer serializer) : IGrainStorage
{
    public const string TableName = "HvGrainState";
    public const int Partitions = 16;
    private const int MaxTransaction = 100, ChunkBytes = 64_000, MaxChunks = 15, InFlight = 4;

    private readonly TableClient _table = service.GetTableClient(TableName);
    private Task? _created;
    private readonly ConcurrentDictionary<string, Partition> _partitions = new();
    // Transactions in flight at once, all partitions together: while they are, writes gather into fuller
    // next transactions instead of many small ones (the store is bound by requests).
    private readonly SemaphoreSlim _inFlight = new(InFlight);

    private sealed class Partition
    {
        public readonly List<PendingWrite> Waiting = [];
        public bool Committing;
    }

    private sealed record PendingWrite(TableTransactionAction Action, TaskCompletionSource<ETag> Done);

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await TableCreatedAsync();
        var (partition, row) = Keys(stateName, grainId);
        var found = await _table.GetEntityIfExistsAsync<TableEntity>(partition, row);
        if (!found.HasValue || found.Value is not { } entity)
        {
            (grainState.ETag, grainState.RecordExists) = (null, false);
            return;
        }
        var data = new MemoryStream();
        for (int i = 0; entity.GetBinary($"Data{i}") is { } chunk; i++) data.Write(chunk);
        grainState.State = serializer.Deserialize<T>(new BinaryData(data.ToArray()));
        (grainState.ETag, grainState.RecordExists) = (entity.ETag.ToString(), true);
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await TableCreatedAsync();
        var (partition, row) = Keys(stateName, grainId);
        var data = serializer.Serialize(grainState.State).ToMemory();
        if (data.Length > ChunkBytes * MaxChunks)
            throw new InvalidOperationException($"The state of {grainId} is {data.Length:N0} bytes; a table entity holds at most {ChunkBytes * MaxChunks:N0}.");
        var entity = new TableEntity(partition, row);
        for (int i = 0; i * ChunkBytes < data.Length; i++)
            entity[$"Data{i}"] = data.Slice(i * ChunkBytes, Math.Min(ChunkBytes, data.Length - i * ChunkBytes)).ToArray();
        var action = grainState.ETag is null
            ? new TableTransactionAction(TableTransactionActionType.Add, entity)
            : new TableTransactionAction(TableTransactionActionType.UpdateReplace, entity, new ETag(grainState.ETag));
        var etag = await CommitAsync(partition, action);
        (grainState.ETag, grainState.RecordExists) = (etag.ToString(), true);
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await TableCreatedAsync();
        var (partition, row) = Keys(stateName, grainId);
        if (grainState.ETag is not null)
        {
            try { await _table.DeleteEntityAsync(partition, row, new ETag(grainState.ETag)); }
            catch (RequestFailedException e) when (e.Status == 412)
            {
                throw new InconsistentStateException($"The state of {grainId} was written by another activation; not cleared.", null, grainState.ETag, e);
            }
        }
        (grainState.ETag, grainState.RecordExists) = (null, false);
    }

    /// <summary>
    /// Creates the table once. A failed creation (storage down while the silo starts) is tried again by
    /// the next operation rather than remembered: a silo must not stay broken after storage comes back.
    /// </summary>
    private Task TableCreatedAsync()
    {
        var created = _created;
        if (created is null || created.IsFaulted || created.IsCanceled) _created = created = _table.CreateIfNotExistsAsync();
        return created;
    }

    /// <summary>Joins the partition's next transaction; starts committing if no commit is running there.</summary>
    private Task<ETag> CommitAsync(string partitionKey, TableTransactionAction action)
    {
        var partition = _partitions.GetOrAdd(partitionKey, _ => new Partition());
        var write = new PendingWrite(action, new TaskCompletionSource<ETag>(TaskCreationOptions.RunContinuationsAsynchronously));
        bool start;
        lock (partition)
        {
            partition.Waiting.Add(write);
            start = !partition.Committing;
            partition.Committing = true;
        }
        if (start) _ = Task.Run(() => CommitWaitingAsync(partition));
        return write.Done.Task;
    }

    private async Task CommitWaitingAsync(Partition partition)
    {
        while (true)
        {
            await _inFlight.WaitAsync();
            var batch = new List<PendingWrite>(MaxTransaction);
            lock (partition)
            {
                // A transaction names an entity once: a second write of one entity waits for the next.
                var rows = new HashSet<string>(StringComparer.Ordinal);
                for (int i = 0; i < partition.Waiting.Count && batch.Count < MaxTransaction; i++)
                    if (rows.Add(partition.Waiting[i].Action.Entity.RowKey)) batch.Add(partition.Waiting[i]);
                if (batch.Count == 0)
                {
                    partition.Committing = false;
                    _inFlight.Release();
                    return;
                }
                var taken = batch.ToHashSet();
                partition.Waiting.RemoveAll(taken.Contains);
            }
            try { await SubmitAsync(batch); }
            finally { _inFlight.Release(); }
        }
    }

    private async Task SubmitAsync(List<PendingWrite> batch)
    {
        while (batch.Count > 0)
        {
            try
            {
                var answers = (await _table.SubmitTransactionAsync(batch.Select(w => w.Action))).Value;
                for (int i = 0; i < batch.Count; i++)
                    batch[i].Done.TrySetResult(answers[i].Headers.ETag ?? throw new InvalidOperationException("A committed entity came back without an ETag."));
                return;
            }
            catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex is int failed && failed < batch.Count)
            {
                // Nothing of the transaction was stored: answer the entity that was refused, send the others again.
                var refused = batch[failed];
                refused.Done.TrySetException(e.Status is 404 or 409 or 412
                    ? new InconsistentStateException($"The state in {refused.Action.Entity.RowKey} was written by another activation (HTTP {e.Status}).",
                        null, refused.Action.ETag.ToString(), e)
                    : e);
                batch.RemoveAt(failed);
            }
            catch (Exception e)
            {
                foreach (var write in batch) write.Done.TrySetException(e);
                return;
            }
        }
    }

    /// <summary>Partition: the service and a bucket of the grain's id; row: the grain and the state, escaped for table keys.</summary>
    private (string Partition, string Row) Keys(string stateName, GrainId grainId)
    {
        string row = $"{Uri.EscapeDataString(grainId.ToString())}_{Uri.EscapeDataString(stateName)}";
        return ($"{Uri.EscapeDataString(serviceId)}_{Bucket(row):D2}", row);
    }

    /// <summary>FNV-1a over the row key: stable across processes and .NET versions, unlike string.GetHashCode.</summary>
    private static int Bucket(string row)
    {
        uint hash = 2166136261;
        foreach (char c in row) hash = (hash ^ c) * 16777619;
        return (int)(hash % Partitions);
    }
}
