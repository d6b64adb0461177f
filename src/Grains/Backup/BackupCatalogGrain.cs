using System.Collections.Immutable;
using HvOrleans.Backup;
using HvOrleans.Grains.Storage;

namespace HvOrleans.Grains;

[GenerateSerializer, Alias("HvOrleans.BackupCatalogState")]
public sealed record class BackupCatalogState([property: Id(0)] ImmutableDictionary<string, BackupRecord> Backups)
{
    public BackupCatalogState() : this(ImmutableDictionary<string, BackupRecord>.Empty) { }
}

public sealed class BackupCatalogGrain(
    [PersistentState("catalog", GrainStorage.Name)] IPersistentState<BackupCatalogState> state,
    DiskStore disks,
    ILogger<BackupCatalogGrain> logger) : Grain, IBackupCatalogGrain
{
    private ImmutableDictionary<string, BackupRecord> Backups => state.State.Backups;

    public async Task Add(BackupRecord record)
    {
        if (Backups.TryGetValue(record.BackupId, out var known) && known.Sha256 == record.Sha256) return;
        await state.SaveAsync(state.State with { Backups = Backups.SetItem(record.BackupId, record) });
        logger.LogInformation("Backup {BackupId} of VM {VmId} recorded ({Consistency}, {Bytes} bytes stored)",
            record.BackupId, record.VmId, record.Consistency, record.StoredBytes);
    }

    public Task<BackupRecord> Get(string backupId) => Task.FromResult(Require(backupId));

    public Task<IReadOnlyList<BackupRecord>> List(string? vmId) => Task.FromResult<IReadOnlyList<BackupRecord>>(
        Backups.Values.Where(b => vmId is null || b.VmId == vmId).OrderBy(b => b.CreatedUtc).ToList());

    public Task<BackupRecord?> Latest(string vmId) =>
        Task.FromResult(Backups.Values.Where(b => b.VmId == vmId).MaxBy(b => b.CreatedUtc));

    public async Task<VerifyResult> Verify(string backupId)
    {
        var record = Require(backupId);
        string actual;
        try
        {
            actual = await disks.ImageSha256Async(Chain(record));
        }
        catch (Azure.RequestFailedException e) when (e.Status == 404)
        {
            actual = "missing";
        }
        return new VerifyResult(backupId, actual == record.Sha256, record.Sha256, actual);
    }

    public async Task<VmInfo> Restore(string backupId, string newVmId, string operationId)
    {
        Rule.Require(!string.IsNullOrWhiteSpace(operationId), "operation-id", "A restore needs an operation id (hv makes one per command).");
        var record = Require(backupId);
        var newVm = GrainFactory.GetGrain<IVmGrain>(newVmId);
        // The same restore again (its answer was lost): the VM it made is the answer.
        var exists = await TryGetInfo(newVm);
        if (exists is not null && await newVm.CreatedBy() == operationId)
            return exists;
        // Otherwise refuse before writing a byte: the new VM must not exist.
        Rule.Require(exists is null, "restore-to-new-vm", $"VM {newVmId} exists; a backup restores into a new VM.");
        var source = await GrainFactory.GetGrain<IVmGrain>(record.VmId).GetInfo();
        var verify = await Verify(backupId);
        Rule.Require(verify.Ok, "backup-verify", $"Backup {backupId} fails verification (expected {verify.Expected}, read {verify.Actual}); not restored.");
        await disks.RestoreAsync(Chain(record), newVmId);
        return await newVm.CreateRestored(source.Snapshot.HostId, source.Snapshot.Config, record.DiskBytes, operationId);
    }

    private static async Task<VmInfo?> TryGetInfo(IVmGrain vm)
    {
        try { return await vm.GetInfo(); }
        catch (HvRuleException e) when (e.Rule == "vm-must-exist") { return null; }
    }

    /// <summary>The backup and its parents, oldest (a full backup) first.</summary>
    private List<BackupRecord> Chain(BackupRecord record)
    {
        var chain = new List<BackupRecord> { record };
        while (chain[0].ParentBackupId is { } parent) chain.Insert(0, Require(parent));
        return chain;
    }

    private BackupRecord Require(string backupId) =>
        Backups.TryGetValue(backupId, out var record) ? record
            : throw new HvRuleException("backup-must-exist", $"Backup {backupId} does not exist.");
}
