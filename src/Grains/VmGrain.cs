using HvOrleans.Backup;
using HvOrleans.Grains.Storage;
using Microsoft.Extensions.Options;

namespace HvOrleans.Grains;

public sealed class VmGrain(
    [PersistentState("vm", GrainStorage.Name)] IPersistentState<VmState> state,
    DiskStore disks,
    IOptions<BackupOptions> options,
    TimeProvider clock,
    ILogger<VmGrain> logger) : Grain, IVmGrain
{
    private static readonly TimeSpan GuardPeriod = TimeSpan.FromMilliseconds(500);
    private string VmId => this.GetPrimaryKeyString();
    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A freeze outlives no silo: its deadline is persisted and enforced here and by the guard timer.
        if (state.State.Disk is { Frozen: true }) await GuardAsync(cancellationToken);
        this.RegisterGrainTimer(GuardAsync, new GrainTimerCreationOptions(GuardPeriod, GuardPeriod) { KeepAlive = false });
    }

    public async Task<VmInfo> Create(string hostId, VmConfig config)
    {
        ResourceNames.Validate("vm", VmId);
        config.Validate();
        Rule.Require(!state.State.Exists || state.State.HostId == hostId, "vm-exists",
            $"VM {VmId} exists on host {state.State.HostId}.");
        // The host first: if it refuses (unknown host, other config) nothing is written here.
        var info = await GrainFactory.GetGrain<IHostGrain>(hostId).CreateVm(VmId, config);
        if (!state.State.Exists) await state.SaveAsync(new VmState(hostId));
        return info;
    }

    public async Task<VmInfo> CreateRestored(string hostId, VmConfig config, long diskBytes, string operationId)
    {
        if (state.State.Exists && state.State.CreatedBy == operationId)
            return await GetInfo();
        Rule.Require(!state.State.Exists, "vm-exists", $"VM {VmId} exists on host {state.State.HostId}; restore to a new VM.");
        var info = await GrainFactory.GetGrain<IHostGrain>(hostId).CreateVm(VmId, config);
        await state.SaveAsync(new VmState(hostId, GuestDisk.Create(diskBytes), operationId));
        return info;
    }

    public Task<string?> CreatedBy() => Task.FromResult(state.State.CreatedBy);

    public Task<VmInfo> Configure(VmConfigChange change) => Host().ConfigureVm(VmId, change);
    public Task<VmInfo> ReportDemand(int demandMb) => Host().ReportDemand(VmId, demandMb);
    public Task<VmInfo> Start() => Host().StartVm(VmId);
    public Task<VmInfo> Stop() => Host().StopVm(VmId);
    public Task<VmInfo> GetInfo() => Host().GetVm(VmId);

    public async Task<DiskInfo> SetGuestAgent(bool running) => Info(await SaveDiskAsync((await DiskAsync()) with { GuestAgent = running }));

    public async Task<DiskInfo> WriteDisk(DiskWrite write) => Info(await SaveDiskAsync((await DiskAsync()).Write(write, Now)));

    public async Task<DiskInfo> FlushDisk() => Info(await FlushAsync(await DiskAsync()));

    public async Task<DiskInfo> GetDisk() => Info(await DiskAsync());

    public async Task<string> DiskSha256()
    {
        var disk = await DiskAsync();
        return await disks.DiskSha256Async(VmId, disk.SizeBytes, disk.Overlay.ToList());
    }

    public async Task<DiskInfo> AcquireBackup(string jobId) => Info(await SaveDiskAsync((await DiskAsync()).Acquire(jobId, VmId)));

    public async Task<Consistency> Freeze(string jobId)
    {
        var (next, toDisk, consistency) = (await DiskAsync()).Freeze(jobId, Now, options.Value.FreezeTimeout);
        // Flush first, record the freeze after: a crash between leaves the data on disk and the VM thawed.
        await disks.ApplyAsync(VmId, toDisk);
        await SaveDiskAsync(next);
        return consistency;
    }

    public async Task<CheckpointResult> Checkpoint(string jobId) =>
        (await SaveDiskAsync((await DiskAsync()).Checkpoint(jobId))).Captured!;

    public async Task<double?> Thaw(string jobId) => (await SaveDiskAsync((await DiskAsync()).Thaw(jobId, Now))).FreezeWindowMs(jobId);

    public async Task MergeCheckpoint(string jobId)
    {
        var (next, toDisk) = (await DiskAsync()).Merge(jobId);
        await disks.ApplyAsync(VmId, toDisk);   // re-applying after a crash writes the same bytes again
        await SaveDiskAsync(next);
    }

    public async Task ReleaseBackup(string jobId)
    {
        var disk = (await DiskAsync()).Thaw(jobId, Now);
        var (merged, toDisk) = disk.Merge(jobId);
        await disks.ApplyAsync(VmId, toDisk);
        await SaveDiskAsync(merged.Release(jobId));
    }

    /// <summary>Writeback of buffered writes, and the guest's own thaw when a freeze outlives its deadline.</summary>
    private async Task GuardAsync(CancellationToken cancellationToken)
    {
        if (state.State.Disk is not { } disk) return;
        var thawed = disk.ThawIfExpired(Now);
        if (thawed != disk)
        {
            logger.LogWarning("VM {VmId}: freeze by {JobId} passed its deadline; the guest thawed itself", VmId, disk.FrozenBy);
            disk = await SaveDiskAsync(thawed);
        }
        if (disk.BufferSinceUtc is { } since && Now - since >= options.Value.WritebackPeriod) await FlushAsync(disk);
    }

    private async Task<GuestDisk> FlushAsync(GuestDisk disk)
    {
        var (next, toDisk) = disk.Flush();
        if (next == disk) return disk;
        await disks.ApplyAsync(VmId, toDisk);
        return await SaveDiskAsync(next);
    }

    private async Task<GuestDisk> DiskAsync()
    {
        Host();
        if (state.State.Disk is { } disk) return disk;
        long sizeBytes = (long)options.Value.DiskSizeMb * 1024 * 1024;
        await disks.CreateDiskAsync(VmId, sizeBytes);
        return await SaveDiskAsync(GuestDisk.Create(sizeBytes));
    }

    private async Task<GuestDisk> SaveDiskAsync(GuestDisk disk)
    {
        if (disk != state.State.Disk) await state.SaveAsync(state.State with { Disk = disk });
        return disk;
    }

    private DiskInfo Info(GuestDisk d) =>
        new(VmId, d.SizeBytes, d.GuestAgent, d.Buffer.Count + d.Held.Count, d.Frozen, d.CheckpointBy is not null, d.BackupJob);

    private IHostGrain Host()
    {
        Rule.Require(state.State.Exists, "vm-must-exist", $"VM {VmId} does not exist; create it with 'hv vm create'.");
        return GrainFactory.GetGrain<IHostGrain>(state.State.HostId);
    }
}
