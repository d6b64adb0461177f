using System.Security.Cryptography;
using HvOrleans.Backup;
using HvOrleans.Grains.Storage;
using Microsoft.Extensions.Options;

namespace HvOrleans.Grains;

/// <summary>
/// Runs one backup job. The job's progress is persisted after every step (and every few copied
/// blocks); a reminder brings an unfinished job back after a silo failure, and each step is
/// idempotent, so a step re-run after a crash finds what its first run made.
/// </summary>
public sealed class BackupJobGrain(
    [PersistentState("job", GrainStorage.Name)] IPersistentState<BackupJobState> state,
    DiskStore disks,
    IOptions<BackupOptions> options,
    ILogger<BackupJobGrain> logger) : Grain, IBackupJobGrain, IRemindable
{
    private const string ReminderName = "resume";
    private IGrainTimer? _timer;
    // The running SHA-256 of a full backup's image, and how many blocks it has seen (memory only).
    private IncrementalHash? _hash;
    private string? _hashFor;
    private int _hashedBlocks;

    private string JobId => this.GetPrimaryKeyString();
    private IBackupCatalogGrain Catalog(string vmId) => GrainFactory.GetGrain<IBackupCatalogGrain>(vmId);
    private IGuestDiskGrain Disk(string vmId) => GrainFactory.GetGrain<IGuestDiskGrain>(vmId);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State is { Exists: true, State: JobState.Running }) StartWorking();
        return Task.CompletedTask;
    }

    public async Task<BackupJobInfo> Start(IReadOnlyList<string> vmIds, bool incremental)
    {
        if (state.State.Exists)
        {
            Rule.Require(state.State.Vms.Select(v => v.VmId).SequenceEqual(vmIds), "backup-job-exists",
                $"Backup job {JobId} exists for other VMs.");
            return Info();   // a repeated start of the same job is the same job
        }
        ResourceNames.Validate("backup-job", JobId);
        Rule.Require(vmIds.Count > 0, "backup-needs-vms", "A backup job names at least one VM; got none.");
        Rule.Require(vmIds.Distinct().Count() == vmIds.Count, "backup-vms-distinct", $"A backup job names each VM once; got {string.Join(", ", vmIds)}.");
        var progress = new List<BackupVmProgress>();
        try
        {
            foreach (var vmId in vmIds)
            {
                // The VM as it is now is what a restore of this backup recreates.
                var vm = (await GrainFactory.GetGrain<IVmGrain>(vmId).GetInfo()).Snapshot;
                var disk = await Disk(vmId).AcquireBackup(JobId);
                var parent = incremental ? await Catalog(vmId).Latest() : null;
                progress.Add(new BackupVmProgress(vmId, BackupStep.Pending, Consistency.FileSystem, 0, 0, null,
                    BackupIds.Of(vmId, JobId), null, null, null, 0, BlockSet.Empty, parent?.BackupId, disk.SizeBytes, vm.HostId, vm.Config));
            }
        }
        catch
        {
            // Refused: let go of the VMs taken so far, so a refusal changes nothing.
            foreach (var p in progress) await Disk(p.VmId).ReleaseBackup(JobId, committed: false);
            throw;
        }
        await state.SaveAsync(new BackupJobState(incremental, JobState.Running, [.. progress]));
        await this.RegisterOrUpdateReminder(ReminderName, options.Value.ResumePeriod, options.Value.ResumePeriod);
        logger.LogInformation("Backup job {JobId} started for {Vms}", JobId, string.Join(", ", vmIds));
        StartWorking();
        return Info();
    }

    public Task<BackupJobInfo> GetInfo()
    {
        Rule.Require(state.State.Exists, "backup-job-must-exist", $"Backup job {JobId} does not exist.");
        return Task.FromResult(Info());
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (state.State is { Exists: true, State: JobState.Running }) StartWorking();
        else if (await this.GetReminder(ReminderName) is { } reminder) await this.UnregisterReminder(reminder);
    }

    private void StartWorking() =>
        _timer ??= this.RegisterGrainTimer(WorkAsync, new GrainTimerCreationOptions(TimeSpan.Zero, TimeSpan.FromMilliseconds(250)) { KeepAlive = true });

    /// <summary>Runs steps back to back (so freeze → checkpoint → thaw is short), persisting after each.</summary>
    private async Task WorkAsync(CancellationToken cancellationToken)
    {
        while (state.State.State == JobState.Running && state.State.Vms.FindIndex(v => !BackupSteps.Finished(v.Step)) is var i and >= 0)
        {
            var vm = state.State.Vms[i];
            BackupVmProgress next;
            try
            {
                if (options.Value.StepDelay > TimeSpan.Zero) await Task.Delay(options.Value.StepDelay, cancellationToken);
                next = await RunStepAsync(vm);
            }
            catch (HvRuleException e)
            {
                logger.LogWarning("Backup job {JobId}: VM {VmId} failed at {Step}: {Error}", JobId, vm.VmId, vm.Step, e.Message);
                await AbandonAsync(vm);
                next = vm with { Step = BackupStep.Failed, Error = $"{vm.Step}: {e.Message}" };
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Storage or a silo is briefly away: the same step runs again next tick; say why it waits.
                logger.LogWarning(e, "Backup job {JobId}: VM {VmId} after {Step} will be retried", JobId, vm.VmId, vm.Step);
                string why = $"retrying after {vm.Step}: {e.GetBaseException().Message}";
                if (vm.Error != why) await SaveAsync(state.State with { Vms = state.State.Vms.SetItem(i, vm with { Error = why }) });
                return;
            }
            if (next.Step != BackupStep.Failed) next = next with { Error = null };
            await SaveAsync(state.State with { Vms = state.State.Vms.SetItem(i, next) });
        }
        if (state.State.State == JobState.Running && state.State.Vms.All(v => BackupSteps.Finished(v.Step)))
        {
            var done = state.State.Vms.All(v => v.Step == BackupStep.Done) ? JobState.Completed : JobState.Failed;
            await SaveAsync(state.State with { State = done });
            logger.LogInformation("Backup job {JobId} {State}", JobId, done);
            if (await this.GetReminder(ReminderName) is { } reminder) await this.UnregisterReminder(reminder);
            _timer?.Dispose();
            _timer = null;
            DeactivateOnIdle();
        }
    }

    private async Task<BackupVmProgress> RunStepAsync(BackupVmProgress vm)
    {
        var grain = Disk(vm.VmId);
        var step = BackupSteps.Next(vm.Step);
        switch (step)
        {
            case BackupStep.Freeze:
                return vm with { Step = step, Consistency = await grain.Freeze(JobId) };
            case BackupStep.Checkpoint:
                var captured = await grain.Checkpoint(JobId);
                bool full = vm.ParentBackupId is null;
                var blocks = full ? BlockSet.All(BackupSteps.BlockCount(captured.DiskBytes)) : captured.ChangedBlocks;
                var consistency = vm.Consistency == Consistency.FileSystem && captured.FreezeHeld ? Consistency.FileSystem : Consistency.Crash;
                return vm with { Step = step, Consistency = consistency, Blocks = blocks, DiskBytes = captured.DiskBytes,
                    BytesTotal = blocks.Bytes(captured.DiskBytes) };
            case BackupStep.Thaw:
                return vm with { Step = step, FreezeWindowMs = await grain.Thaw(JobId) };
            case BackupStep.Snapshot:
                return vm with { Step = step, SnapshotId = await disks.SnapshotAsync(vm.VmId, JobId) };
            case BackupStep.Copy:
                return await CopyAsync(vm);
            case BackupStep.Cleanup:
                await grain.MergeCheckpoint(JobId);
                await disks.DeleteSnapshotAsync(vm.VmId, vm.SnapshotId!);
                await grain.ReleaseBackup(JobId, committed: true);   // the record is in the catalog since Copy
                return vm with { Step = step };
            default:
                return vm with { Step = BackupStep.Done };
        }
    }

    /// <summary>
    /// A few blocks at a time, progress persisted between; the step completes only when all are
    /// committed and recorded. A full backup reads the snapshot once: the image's SHA-256 is
    /// computed from the blocks as they are copied (in memory — a copy resumed on another silo first
    /// re-reads what was copied before). An incremental one reads the whole snapshot for it at the end.
    /// </summary>
    private async Task<BackupVmProgress> CopyAsync(BackupVmProgress vm)
    {
        bool full = vm.ParentBackupId is null;
        if (full && (_hashFor != vm.BackupId || _hashedBlocks != vm.NextBlock))
        {
            _hash?.Dispose();
            _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await disks.HashPrefixAsync(vm.VmId, vm.SnapshotId!, vm.DiskBytes, vm.NextBlock, _hash);
            (_hashFor, _hashedBlocks) = (vm.BackupId, vm.NextBlock);
        }
        if (vm.NextBlock < vm.Blocks.Count)
        {
            var batch = vm.Blocks.Skip(vm.NextBlock).Take(options.Value.BlocksPerProgress * options.Value.CopyParallelism).ToList();
            var copied = await disks.StageAsync(vm.VmId, vm.SnapshotId!, vm.BackupId, vm.DiskBytes, batch);
            if (full)
            {
                foreach (var bytes in copied) _hash!.AppendData(bytes);
                _hashedBlocks += copied.Length;
            }
            return vm with { NextBlock = vm.NextBlock + batch.Count, BytesCopied = vm.BytesCopied + copied.Sum(b => (long)b.Length) };
        }
        await disks.CommitAsync(vm.BackupId, vm.Blocks);
        string sha256 = full ? Convert.ToHexStringLower(_hash!.GetHashAndReset())
            : await disks.SnapshotSha256Async(vm.VmId, vm.SnapshotId!, vm.DiskBytes);
        _hashFor = null;
        await Catalog(vm.VmId).Add(new BackupRecord(vm.BackupId, vm.VmId, JobId, DateTime.UtcNow, vm.Consistency, vm.ParentBackupId,
            vm.DiskBytes, full ? null : vm.Blocks, vm.BytesTotal, sha256, vm.HostId, vm.Config));
        return vm with { Step = BackupStep.Copy, Sha256 = sha256 };
    }

    /// <summary>A failed VM is thawed, its checkpoint merged, its snapshot released and its lock let go.</summary>
    private async Task AbandonAsync(BackupVmProgress vm)
    {
        try
        {
            if (vm.SnapshotId is not null) await disks.DeleteSnapshotAsync(vm.VmId, vm.SnapshotId);
            await Disk(vm.VmId).ReleaseBackup(JobId, committed: false);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Backup job {JobId}: cleanup of failed VM {VmId} incomplete", JobId, vm.VmId);
        }
    }

    private Task SaveAsync(BackupJobState next) => state.SaveAsync(next);

    private BackupJobInfo Info() => new(JobId, state.State.State, state.State.Incremental, state.State.Vms, RuntimeIdentity);
}
