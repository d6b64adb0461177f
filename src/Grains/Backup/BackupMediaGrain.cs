using Azure.Storage.Sas;
using HvOrleans.Grains.Storage;

namespace HvOrleans.Grains;

public sealed class BackupMediaGrain(DiskStore disks) : Grain, IBackupMediaGrain
{
    private IBackupCatalogGrain Catalog => GrainFactory.GetGrain<IBackupCatalogGrain>(this.GetPrimaryKeyString());

    public async Task<VerifyResult> Verify(string backupId)
    {
        var chain = await Catalog.Chain(backupId);
        if (chain[^1].Real) return await VerifyGuestAsync(chain);
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

    public async Task<RestoreReport> RestoreTo(string backupId, string newVmId, string operationId, string? hostId)
    {
        var chain = await Catalog.Chain(backupId);
        if (!chain[^1].Real)
        {
            Rule.Require(hostId is null || hostId == chain[^1].HostId, "restore-host",
                $"Backup {backupId} is of a modelled VM: it restores onto its own host {chain[^1].HostId}, not {hostId}.");
            return new RestoreReport(await Restore(backupId, newVmId, operationId), []);
        }
        Rule.Require(!string.IsNullOrWhiteSpace(operationId), "operation-id", "A restore needs an operation id (hv makes one per command).");
        ResourceNames.Validate("vm", newVmId);
        var last = chain[^1];
        var newVm = GrainFactory.GetGrain<IVmGrain>(newVmId);
        string? createdBy = await CreatedByAsync(newVm);
        if (createdBy == operationId) return new RestoreReport(await newVm.GetInfo(), []);
        Rule.Require(createdBy is null, "restore-to-new-vm", $"VM {newVmId} exists; a backup restores into a new VM.");
        string host = hostId ?? last.HostId;
        var agent = await GrainFactory.GetGrain<IHostGrain>(host).GetAgent()
            ?? throw new HvRuleException("agent-connected", $"Backup {backupId} is of a real VM: it restores through an agent, and host {host}'s agent has not synced lately (infra/agent.sh status).");
        var layers = new List<DiskRestore>();
        foreach (var disk in last.Disks!)
        {
            // From the newest backup that copied this disk whole, every later one on top.
            int from = chain.Select((r, i) => (r, i)).Last(x => x.r.Disks!.Single(d => d.Index == disk.Index).Incremental == false).i;
            var diskLayers = new List<RestoreLayer>();
            foreach (var record in chain.Skip(from))
            {
                var d = record.Disks!.Single(x => x.Index == disk.Index);
                diskLayers.Add(new RestoreLayer(record.BackupId,
                    await disks.SasAsync(disks.GuestManifest(record.BackupId, disk.Index), BlobSasPermissions.Read, RestoreSasLifetime), d.ManifestSha256,
                    await disks.SasAsync(disks.GuestData(record.BackupId, disk.Index), BlobSasPermissions.Read, RestoreSasLifetime)));
            }
            layers.Add(new DiskRestore(disk.Index, disk.SizeBytes, diskLayers));
        }
        var restored = await agent.Restore(newVmId, layers);
        var vmDisks = last.VmDisks ?? new VmDisks([.. last.Disks!.Select(d => (int)(d.SizeBytes / VmDisks.Bytes(1)))]);
        var info = await newVm.CreateRestored(host, last.Config, 0, operationId, vmDisks);
        return new RestoreReport(info, restored);
    }

    private static readonly TimeSpan RestoreSasLifetime = TimeSpan.FromHours(1);

    /// <summary>A real VM's backup chain re-read: every manifest against the catalog, every chunk against its manifest.</summary>
    private async Task<VerifyResult> VerifyGuestAsync(IReadOnlyList<BackupRecord> chain)
    {
        var last = chain[^1];
        foreach (var record in chain)
            foreach (var disk in record.Disks ?? [])
                if (await disks.VerifyGuestDiskAsync(record.BackupId, disk) is { } problem)
                    return new VerifyResult(last.BackupId, false, last.Sha256, $"{record.BackupId}: {problem}");
        return new VerifyResult(last.BackupId, true, last.Sha256, DiskStore.GuestBackupSha256(last.Disks!));
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
