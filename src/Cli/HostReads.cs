namespace HvOrleans.Cli;

/// <summary>What a live view of a host reads (hv watch, the fleet page, the HTTP API), in one place.</summary>
public static class HostReads
{
    /// <summary>
    /// One call to the host for itself and its VMs, then the jobs that hold any of them: a real VM's
    /// job is on its host's record, a modelled VM's on its disk grain.
    /// </summary>
    public static async Task<(HostInfo Host, IReadOnlyList<VmInfo> Vms, IReadOnlyList<BackupJobInfo> Backups)> ReadAsync(IGrainFactory grains, string hostId, string? vmId = null)
    {
        var host = grains.GetGrain<IHostGrain>(hostId);
        var (info, vms) = (await host.GetInfo(), await host.GetVms());
        var watched = vmId is null ? vms : vms.Where(v => v.Snapshot.VmId == vmId).ToList();
        var jobIds = await Task.WhenAll(watched.Select(async v => v.Driver == HostDriver.Qemu
            ? v.BackupJob
            : (await grains.GetGrain<IGuestDiskGrain>(v.Snapshot.VmId).GetInfo()).BackupJob));
        var jobs = await Task.WhenAll(jobIds.OfType<string>().Distinct().Select(j => grains.GetGrain<IBackupJobGrain>(j).GetInfo()));
        return (info, vms, jobs);
    }
}
