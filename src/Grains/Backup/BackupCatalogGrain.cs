using System.Collections.Immutable;
using HvOrleans.Backup;

namespace HvOrleans.Grains;

[GenerateSerializer, Alias("HvOrleans.BackupCatalogState")]
public sealed record class BackupCatalogState([property: Id(0)] ImmutableDictionary<string, BackupRecord> Backups)
{
    public BackupCatalogState() : this(ImmutableDictionary<string, BackupRecord>.Empty) { }
}

public sealed class BackupCatalogGrain(
    [PersistentState("catalog", GrainStorage.Name)] IPersistentState<BackupCatalogState> state,
    ILogger<BackupCatalogGrain> logger) : Grain, IBackupCatalogGrain
{
    private string VmId => this.GetPrimaryKeyString();
    private ImmutableDictionary<string, BackupRecord> Backups => state.State.Backups;

    public async Task Add(BackupRecord record)
    {
        Rule.Require(record.VmId == VmId, "backup-catalog-vm", $"Backup {record.BackupId} of VM {record.VmId} does not belong in VM {VmId}'s catalog.");
        if (Backups.TryGetValue(record.BackupId, out var known) && known.Sha256 == record.Sha256) return;
        await state.SaveAsync(state.State with { Backups = Backups.SetItem(record.BackupId, record) });
        logger.LogInformation("Backup {BackupId} of VM {VmId} recorded ({Consistency}, {Bytes} bytes stored)",
            record.BackupId, record.VmId, record.Consistency, record.StoredBytes);
    }

    public Task<BackupRecord> Get(string backupId) => Task.FromResult(Require(backupId));

    public Task<IReadOnlyList<BackupRecord>> List() =>
        Task.FromResult<IReadOnlyList<BackupRecord>>(Backups.Values.OrderBy(b => b.CreatedUtc).ToList());

    public Task<BackupRecord?> Latest() => Task.FromResult(Backups.Values.MaxBy(b => b.CreatedUtc));

    public Task<IReadOnlyList<BackupRecord>> Chain(string backupId)
    {
        var chain = new List<BackupRecord> { Require(backupId) };
        while (chain[0].ParentBackupId is { } parent) chain.Insert(0, Require(parent));
        return Task.FromResult<IReadOnlyList<BackupRecord>>(chain);
    }

    private BackupRecord Require(string backupId) =>
        Backups.TryGetValue(backupId, out var record) ? record
            : throw new HvRuleException("backup-must-exist", $"Backup {backupId} does not exist.");
}
