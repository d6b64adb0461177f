using HvOrleans.Grains.Storage;

namespace HvOrleans.Grains;

public sealed class BackupMediaGrain(DiskStore disks) : Grain, IBackupMediaGrain
{
    private IBackupCatalogGrain Catalog => GrainFactory.GetGrain<IBackupCatalogGrain>(this.GetPrimaryKeyString());

    public async Task<VerifyResult> Verify(string backupId)
    {
        var chain = await Catalog.Chain(backupId);
        string actual;
        try
        {
            actual = await disks.ImageSha256Async(chain);
        }
        catch (Azure.RequestFailedException e) when (e.Status == 404)
        {
            actual = "missing";
        }
        return new VerifyResult(backupId, actual == chain[^1].Sha256, chain[^1].Sha256, actual);
    }

    public async Task<VmInfo> Restore(string backupId, string newVmId, string operationId)
    {
        Rule.Require(!string.IsNullOrWhiteSpace(operationId), "operation-id", "A restore needs an operation id (hv makes one per command).");
        ResourceNames.Validate("vm", newVmId);
        var chain = await Catalog.Chain(backupId);
        var newVm = GrainFactory.GetGrain<IVmGrain>(newVmId);
        // The same restore again (its answer was lost): the VM it made is the answer, and nothing is written over it.
        string? createdBy = await CreatedByAsync(newVm);
        if (createdBy == operationId)
            return await newVm.CreateRestored(chain[^1].HostId, chain[^1].Config, chain[^1].DiskBytes, operationId);
        // Otherwise refuse before writing a byte: the new VM must not exist.
        Rule.Require(createdBy is null, "restore-to-new-vm", $"VM {newVmId} exists; a backup restores into a new VM.");
        var verify = await Verify(backupId);
        Rule.Require(verify.Ok, "backup-verify", $"Backup {backupId} fails verification (expected {verify.Expected}, read {verify.Actual}); not restored.");
        await disks.RestoreAsync(chain, newVmId);
        return await newVm.CreateRestored(chain[^1].HostId, chain[^1].Config, chain[^1].DiskBytes, operationId);
    }

    /// <summary>The operation that created the VM, "" for one created otherwise, null for no VM.</summary>
    private static async Task<string?> CreatedByAsync(IVmGrain vm)
    {
        try
        {
            await vm.GetHostId();
            return await vm.CreatedBy() ?? "";
        }
        catch (HvRuleException e) when (e.Rule == "vm-must-exist")
        {
            return null;
        }
    }
}
