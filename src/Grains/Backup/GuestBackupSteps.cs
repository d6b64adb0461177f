using Azure.Storage.Sas;
using HvOrleans.Grains.Storage;

namespace HvOrleans.Grains;

/// <summary>
/// A backup job's steps on a real VM, carried out by the agent of the VM's host. Freeze, checkpoint
/// and thaw are one agent call (guest-agent freeze, one QMP transaction, thaw: the guest is frozen
/// for milliseconds, not for three persisted steps); Snapshot waits for QEMU's point-in-time copy;
/// Copy uploads its allocated clusters a few chunks per round and commits each disk with its manifest;
/// Cleanup drops the temporary copy and the change tracking that served. The agent gets a SAS URI per
/// blob, never the account key.
/// </summary>
internal sealed class GuestBackupSteps(IGrainFactory grains, DiskStore disks, BackupOptions options, string jobId)
{
    /// <summary>Chunks (4 MiB each) uploaded per round: a resumed copy repeats at most this much.</summary>
    public const int ChunksPerRound = 16;
    private static readonly TimeSpan SasLifetime = TimeSpan.FromHours(1);

    /// <summary>The step's result, or null while the step waits on QEMU (the point-in-time copy is still being made).</summary>
    public async Task<BackupVmProgress?> RunAsync(BackupVmProgress vm)
    {
        var step = BackupSteps.Next(vm.Step);
        switch (step)
        {
            case BackupStep.Freeze:
                // Freeze, Checkpoint and Thaw in one call; recorded at once.
                var capture = await OnAgentAsync(vm, agent => agent.Capture(vm.VmId, new GuestCaptureRequest(jobId, vm.ParentBitmap, options.FreezeTimeout)));
                var diskProgress = capture.Disks.Select(d => new DiskProgress(d.Index, d.SizeBytes, d.Incremental, d.TrackedBytes)).ToList();
                return vm with
                {
                    Step = BackupStep.Thaw, Consistency = capture.Consistency, FreezeWindowMs = capture.FreezeWindowMs, Bitmap = capture.Bitmap,
                    Note = capture.Note, Disks = diskProgress, DiskBytes = diskProgress.Sum(d => d.SizeBytes),
                    // A disk copied whole has no parent to build on.
                    ParentBitmap = diskProgress.Any(d => d.Incremental) ? vm.ParentBitmap : null,
                    ParentBackupId = diskProgress.Any(d => d.Incremental) ? vm.ParentBackupId : null,
                };
            case BackupStep.Snapshot:
                var pointInTime = await OnAgentAsync(vm, agent => agent.PointInTime(vm.VmId, jobId));
                if (!pointInTime.Ready) return null;
                var mapped = vm.Disks!.Select(d => pointInTime.Disks.Single(m => m.Index == d.Index) is var m ? d with { DataBytes = m.DataBytes, Chunks = m.Chunks, ZeroBytes = m.ZeroBytes } : d).ToList();
                return vm with { Step = step, SnapshotId = $"qemu:{jobId}", Disks = mapped, BytesTotal = mapped.Sum(d => d.DataBytes) };
            case BackupStep.Copy:
                return await CopyRoundAsync(vm);
            case BackupStep.Cleanup:
                await OnAgentAsync(vm, async agent => { await agent.Release(vm.VmId, jobId, vm.ParentBitmap, committed: true); return true; });
                await grains.GetGrain<IHostGrain>(vm.HostId).ReleaseBackup(vm.VmId, jobId);
                return vm with { Step = step };
            default:
                return vm with { Step = BackupStep.Done };
        }
    }

    /// <summary>Takes the VM for the job: the host holds it, the catalog's latest backup is an incremental's parent.</summary>
    public async Task<BackupVmProgress> TakeAsync(BackupVmProgress vm, VmSnapshot snapshot, bool incremental)
    {
        var host = grains.GetGrain<IHostGrain>(snapshot.HostId);
        var vmDisks = await host.AcquireBackup(vm.VmId, jobId);
        BackupRecord? parent;
        try
        {
            parent = incremental ? await grains.GetGrain<IBackupCatalogGrain>(vm.VmId).Latest() : null;
        }
        catch (HvRuleException)
        {
            await host.ReleaseBackup(vm.VmId, jobId);
            throw;
        }
        if (parent is { Real: false }) parent = null;   // a modelled backup of a VM of that name: no chain to build on
        return vm with { Real = true, HostId = snapshot.HostId, Config = snapshot.Config, VmDisks = vmDisks, ParentBackupId = parent?.BackupId, ParentBitmap = parent?.Bitmap };
    }

    /// <summary>A VM whose backup stops short: the guest thawed, the temporary copy dropped, change tracking merged back, staged blocks removed, the VM let go.</summary>
    public async Task AbandonAsync(BackupVmProgress vm)
    {
        bool committed = vm.Step >= BackupStep.Copy;
        var host = grains.GetGrain<IHostGrain>(vm.HostId);
        try
        {
            // An agent that is away thaws the guest itself (its watchdog, or its restart); the job's files on the host then stay.
            try { await OnAgentAsync(vm, async agent => { await agent.Release(vm.VmId, jobId, vm.ParentBitmap, committed); return true; }); }
            catch (AgentUnavailableException) { }
            if (!committed)
                foreach (int disk in Enumerable.Range(0, vm.VmDisks?.Count ?? vm.Disks?.Count ?? 0))
                    await disks.DiscardGuestDiskAsync(vm.BackupId, disk);
        }
        finally
        {
            await host.ReleaseBackup(vm.VmId, jobId);
        }
    }

    /// <summary>
    /// One round: up to <see cref="ChunksPerRound"/> chunks, disk after disk, each disk committed as
    /// soon as its last chunk is up, and the catalog record once all are (a small backup copies in one round).
    /// </summary>
    private async Task<BackupVmProgress> CopyRoundAsync(BackupVmProgress vm)
    {
        var progress = vm.Disks!.ToList();
        long copied = 0;
        int budget = ChunksPerRound;
        for (int i = 0; i < progress.Count && budget > 0; i++)
        {
            var disk = progress[i];
            if (disk.Committed is not null) continue;
            var data = await disks.SasAsync(disks.GuestData(vm.BackupId, disk.Index), BlobSasPermissions.Read | BlobSasPermissions.Write, SasLifetime);
            if (disk.NextChunk < disk.Chunks)
            {
                int first = disk.NextChunk, count = Math.Min(budget, disk.Chunks - first);
                copied += await OnAgentAsync(vm, agent => agent.Upload(vm.VmId, new ChunkUpload(jobId, disk.Index, first, count, data)));
                (disk, budget) = (disk with { NextChunk = first + count }, budget - count);
            }
            if (disk.NextChunk == disk.Chunks)
            {
                var manifest = await disks.SasAsync(disks.GuestManifest(vm.BackupId, disk.Index), BlobSasPermissions.Read | BlobSasPermissions.Write | BlobSasPermissions.Create, SasLifetime);
                var committed = await OnAgentAsync(vm, agent => agent.Commit(vm.VmId, new DiskCommit(jobId, vm.BackupId, disk.Index, data, manifest)));
                disk = disk with { Committed = committed };
            }
            progress[i] = disk;
        }
        vm = vm with { Disks = progress, BytesCopied = vm.BytesCopied + copied };
        if (progress.Any(d => d.Committed is null)) return vm;

        // Every disk committed in this round or before: the backup exists once the catalog records it.
        var all = progress.Select(d => d.Committed!).ToList();
        string sha256 = DiskStore.GuestBackupSha256(all);
        await grains.GetGrain<IBackupCatalogGrain>(vm.VmId).Add(new BackupRecord(vm.BackupId, vm.VmId, jobId, DateTime.UtcNow, vm.Consistency,
            vm.ParentBackupId, vm.DiskBytes, null, all.Sum(d => d.DataBytes), sha256, vm.HostId, vm.Config!, all, vm.VmDisks, vm.Bitmap, vm.Note));
        return vm with { Step = BackupStep.Copy, Sha256 = sha256 };
    }

    /// <summary>
    /// A step on the host's agent. A call to an agent that died waits for its response timeout (minutes
    /// for an upload); so while it runs, the host is asked every few seconds whether that agent still
    /// syncs, and the step gives up on it as soon as it does not (or another agent took over): the
    /// step is then tried again, on the agent there is. Every step is idempotent, so a call that was
    /// given up on and still ends does no harm.
    /// </summary>
    private async Task<T> OnAgentAsync<T>(BackupVmProgress vm, Func<IHostAgent, Task<T>> step)
    {
        var host = grains.GetGrain<IHostGrain>(vm.HostId);
        var agent = await host.GetAgent() ?? throw new AgentUnavailableException($"Host {vm.HostId}'s agent has not synced lately; the step waits for it.");
        var call = step(agent);
        while (await Task.WhenAny(call, Task.Delay(AgentCheckPeriod)) != call)
        {
            if (await host.GetAgent() is { } current && current.GetGrainId() == agent.GetGrainId()) continue;
            _ = call.ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);   // observed: its end no longer matters
            throw new AgentUnavailableException($"Host {vm.HostId}'s agent stopped syncing (or restarted) during the step; it is tried again on the agent there is.");
        }
        return await call;
    }

    private static readonly TimeSpan AgentCheckPeriod = TimeSpan.FromSeconds(2);
}

/// <summary>A host's agent is away (restarting, cut off): a passing reason, so the step is tried again.</summary>
internal sealed class AgentUnavailableException(string message) : Exception(message);
