using HvOrleans.Backup;
using HvOrleans.Grains.Storage;
using Microsoft.Extensions.Options;

namespace HvOrleans.Grains;

public sealed class GuestDiskGrain(
    [PersistentState("disk", GrainStorage.Name)] IPersistentState<GuestDiskState> state,
    DiskStore disks,
    IOptions<BackupOptions> options,
    TimeProvider clock,
    ILogger<GuestDiskGrain> logger) : Grain, IGuestDiskGrain
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

    public async Task<DiskInfo> SetGuestAgent(bool running) => Info(await SaveAsync((await DiskAsync()) with { GuestAgent = running }));

    public async Task<DiskInfo> Write(DiskWrite write)
    {
        await RequireRunningAsync($"write {write.LengthBytes} bytes at {write.OffsetBytes}");
        return Info(await SaveAsync((await DiskAsync()).Write(write, Now)));
    }

    public async Task<DiskInfo> Flush()
    {
        await RequireRunningAsync("flush");
        return Info(await FlushAsync(await DiskAsync()));
    }

    public async Task ShutDown()
    {
        if (state.State.Disk is not { } disk) return;
        var (next, toDisk) = disk.ShutDown();
        await disks.ApplyAsync(VmId, toDisk);
        await SaveAsync(next);
    }

    public async Task<DiskInfo> GetInfo() => Info(await DiskAsync());

    public async Task<string> Sha256()
    {
        var disk = await DiskAsync();
        return await disks.DiskSha256Async(VmId, disk.SizeBytes, disk.Overlay.ToList());
    }

    public async Task<DiskInfo> Adopt(long sizeBytes) =>
        Info(state.State.Disk ?? await SaveAsync(GuestDisk.Create(sizeBytes)));

    public async Task<DiskInfo> AcquireBackup(string jobId) => Info(await SaveAsync((await DiskAsync()).Acquire(jobId, VmId)));

    public async Task<Consistency> Freeze(string jobId)
    {
        bool running = (await GrainFactory.GetGrain<IVmGrain>(VmId).GetInfo()).Snapshot.Memory.Running;
        var (next, toDisk, consistency) = (await DiskAsync()).Freeze(jobId, Now, options.Value.FreezeTimeout, running);
        // Flush first, record the freeze after: a crash between leaves the data on disk and the VM thawed.
        await disks.ApplyAsync(VmId, toDisk);
        await SaveAsync(next);
        return consistency;
    }

    public async Task<CheckpointResult> Checkpoint(string jobId) =>
        (await SaveAsync((await DiskAsync()).Checkpoint(jobId))).Captured!;

    public async Task<double?> Thaw(string jobId) => (await SaveAsync((await DiskAsync()).Thaw(jobId, Now))).FreezeWindowMs(jobId);

    public async Task MergeCheckpoint(string jobId)
    {
        var (next, toDisk) = (await DiskAsync()).Merge(jobId);
        await disks.ApplyAsync(VmId, toDisk);   // re-applying after a crash writes the same bytes again
        await SaveAsync(next);
    }

    public async Task ReleaseBackup(string jobId, bool committed)
    {
        var disk = (await DiskAsync()).Thaw(jobId, Now);
        var (merged, toDisk) = disk.Merge(jobId);
        await disks.ApplyAsync(VmId, toDisk);
        await SaveAsync(merged.Release(jobId, committed));
    }

    /// <summary>Writeback of buffered writes, and the guest's own thaw when a freeze outlives its deadline.</summary>
    private async Task GuardAsync(CancellationToken cancellationToken)
    {
        if (state.State.Disk is not { } disk) return;
        var thawed = disk.ThawIfExpired(Now);
        if (thawed != disk)
        {
            logger.LogWarning("VM {VmId}: freeze by {JobId} passed its deadline; the guest thawed itself", VmId, disk.FrozenBy);
            disk = await SaveAsync(thawed);
        }
        if (disk.BufferSinceUtc is { } since && Now - since >= options.Value.WritebackPeriod) await FlushAsync(disk);
    }

    private async Task<GuestDisk> FlushAsync(GuestDisk disk)
    {
        var (next, toDisk) = disk.Flush();
        if (next == disk) return disk;
        await disks.ApplyAsync(VmId, toDisk);
        return await SaveAsync(next);
    }

    /// <summary>The disk, created on first use of an existing VM (a blob already there — a restore's — keeps its size).</summary>
    private async Task<GuestDisk> DiskAsync()
    {
        if (state.State.Disk is { } disk) return disk;
        await GrainFactory.GetGrain<IVmGrain>(VmId).GetHostId();   // refused (vm-must-exist) for an unknown VM
        long sizeBytes = await disks.CreateDiskAsync(VmId, (long)options.Value.DiskSizeMb * 1024 * 1024);
        return await SaveAsync(GuestDisk.Create(sizeBytes));
    }

    private async Task<GuestDisk> SaveAsync(GuestDisk disk)
    {
        if (disk != state.State.Disk) await state.SaveAsync(new GuestDiskState(disk));
        return disk;
    }

    /// <summary>Only a running guest writes: a stopped VM's disk is at rest.</summary>
    private async Task RequireRunningAsync(string what)
    {
        var vm = await GrainFactory.GetGrain<IVmGrain>(VmId).GetInfo();
        Rule.Require(vm.Driver == HostDriver.Model, "disk-real-guest",
            $"VM {VmId} is a real guest: its disks are its own (write in it with 'hv vm exec {VmId} -- …'); hv disk {what.Split(' ')[0]} is for modelled guests.");
        Rule.Require(vm.Snapshot.Memory.Running, "vm-must-be-running", $"VM {VmId} is stopped, so its guest cannot {what}; start it with 'hv vm start'.");
    }

    private DiskInfo Info(GuestDisk d) =>
        new(VmId, d.SizeBytes, d.GuestAgent, d.Buffer.Count + d.Held.Count, d.Frozen, d.CheckpointBy is not null, d.BackupJob);
}
