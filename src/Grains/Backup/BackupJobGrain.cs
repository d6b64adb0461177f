using HvOrleans.Grains.Storage;
using Microsoft.Extensions.Options;

namespace HvOrleans.Grains;

/// <summary>
/// Runs one backup job. The job is saved before it takes any VM, and its progress after every step
/// (and every few copied blocks); a reminder brings an unfinished job back after a silo failure, and
/// each step is idempotent, so a step re-run after a crash finds what its first run made. A step
/// that fails for a passing reason is tried again a bounded number of times; an operator's cancel
/// stops the job at the next safe point.
/// </summary>
public sealed class BackupJobGrain(
    [PersistentState("job", GrainStorage.Name)] IPersistentState<BackupJobState> state,
    [PersistentState("cancel", GrainStorage.Name)] IPersistentState<BackupCancelState> cancel,
    DiskStore disks,
    IOptions<BackupOptions> options,
    TimeProvider clock,
    ILogger<BackupJobGrain> logger) : Grain, IBackupJobGrain, IRemindable
{
    private const string ReminderName = "resume";
    private static readonly TimeSpan TickPeriod = TimeSpan.FromMilliseconds(250);
    private IGrainTimer? _timer;
    private BackupCopy? _copy;
    private DateTimeOffset _retryAt;

    private string JobId => this.GetPrimaryKeyString();
    private BackupJobState Job => state.State;
    private IGuestDiskGrain Disk(string vmId) => GrainFactory.GetGrain<IGuestDiskGrain>(vmId);
    private BackupCopy Copy => _copy ??= new BackupCopy(disks, options.Value.BlocksPerProgress * options.Value.CopyParallelism);
    private GuestBackupSteps Guest => _guest ??= new GuestBackupSteps(GrainFactory, disks, options.Value, JobId);
    private GuestBackupSteps? _guest;

    /// <summary>How long a step that waits on QEMU (a point-in-time copy being made) waits before it asks again.</summary>
    private static readonly TimeSpan WaitingPeriod = TimeSpan.FromMilliseconds(500);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (Job.Exists && !BackupSteps.Finished(Job.State)) StartWorking();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _copy?.Dispose();
        return Task.CompletedTask;
    }

    public async Task<BackupJobInfo> Start(IReadOnlyList<string> vmIds, bool incremental)
    {
        if (Job.Exists)
        {
            Rule.Require(Job.Vms.Select(v => v.VmId).SequenceEqual(vmIds), "backup-job-exists", $"Backup job {JobId} exists for other VMs.");
            // A job still Starting was never answered (its first start died taking the VMs): this start answers for it,
            // so an acknowledged job always holds its VMs, and another job cannot take one before it.
            if (Job.State == JobState.Starting) await TakeVmsOrForgetAsync();
            else await GrainFactory.GetGrain<IFleetGrain>(0).BackupStarted(JobId);   // a start retried after the directory failed
            return Info();   // a repeated start of the same job is the same job
        }
        ResourceNames.Validate("backup-job", JobId);
        Rule.Require(vmIds.Count > 0, "backup-needs-vms", "A backup job names at least one VM; got none.");
        Rule.Require(vmIds.Distinct().Count() == vmIds.Count, "backup-vms-distinct", $"A backup job names each VM once; got {string.Join(", ", vmIds)}.");
        foreach (var vmId in vmIds) ResourceNames.Validate("vm", vmId);
        // Saved and kept alive by its reminder before any VM is taken: a crash from here on never leaves a VM held by a job nobody runs.
        await state.SaveAsync(new BackupJobState(incremental, JobState.Starting, [.. vmIds.Select(v => BackupVmProgress.Pending(v, JobId))]));
        // From here the job's own timer finishes what this call may not (storage paused, a VM's silo gone):
        // it runs once this call has ended, however it ended.
        StartWorking();
        await TakeVmsOrForgetAsync();
        return Info();
    }

    /// <summary>
    /// Takes the job's VMs and lists it. A refusal lets go of the VMs taken so far and forgets the job: no start
    /// was answered yet, so a refusal changes nothing, and a start tried again later begins afresh.
    /// </summary>
    private async Task TakeVmsOrForgetAsync()
    {
        try
        {
            await this.RegisterOrUpdateReminder(ReminderName, options.Value.ResumePeriod, options.Value.ResumePeriod);
            await TakeVmsAsync();
        }
        catch (HvRuleException)
        {
            await ForgetAsync();
            throw;
        }
        await GrainFactory.GetGrain<IFleetGrain>(0).BackupStarted(JobId);
        logger.LogInformation("Backup job {JobId} started for {Vms}", JobId, string.Join(", ", Job.Vms.Select(v => v.VmId)));
    }

    public Task<BackupJobInfo> GetInfo() => Task.FromResult(RequireJob());

    public async Task<BackupJobInfo> Cancel()
    {
        RequireJob();
        if (!BackupSteps.Finished(Job.State) && !cancel.State.Requested)
        {
            await cancel.SaveAsync(new BackupCancelState(Requested: true));
            logger.LogInformation("Backup job {JobId}: cancel requested", JobId);
        }
        return Info();
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (Job.Exists && !BackupSteps.Finished(Job.State)) StartWorking();
        else await StopRemindingAsync();
    }

    private void StartWorking() =>
        _timer ??= this.RegisterGrainTimer(WorkAsync, new GrainTimerCreationOptions(TimeSpan.Zero, TickPeriod) { KeepAlive = true });

    /// <summary>Runs steps back to back (so freeze → checkpoint → thaw is short), persisting after each.</summary>
    private async Task WorkAsync(CancellationToken cancellationToken)
    {
        if (!Job.Exists || clock.GetUtcNow() < _retryAt) return;
        if (Job.State == JobState.Starting && !await ResumeStartAsync()) return;
        while (Job.State == JobState.Running && Job.Vms.FindIndex(v => !BackupSteps.Finished(v.Step)) is var i and >= 0)
        {
            if (cancel.State.Requested) { await CancelAsync(); break; }
            if (options.Value.StepDelay > TimeSpan.Zero) await Task.Delay(options.Value.StepDelay, cancellationToken);
            if (!await StepAsync(i)) return;
        }
        if (Job.State == JobState.Running && Job.Vms.All(v => BackupSteps.Finished(v.Step)))
            await FinishAsync(Job.Vms.All(v => v.Step == BackupStep.Done) ? JobState.Completed : JobState.Failed);
    }

    /// <summary>One step of VM <paramref name="i"/>; false when it must wait before it is tried again.</summary>
    private async Task<bool> StepAsync(int i)
    {
        var vm = Job.Vms[i];
        BackupVmProgress next;
        try
        {
            if (await RunStepAsync(vm) is not { } done)
            {
                _retryAt = clock.GetUtcNow() + WaitingPeriod;
                return false;
            }
            next = done with { Error = null, FailedAttempts = 0 };
        }
        catch (HvRuleException e)
        {
            logger.LogWarning("Backup job {JobId}: VM {VmId} failed at {Step}: {Error}", JobId, vm.VmId, BackupSteps.InProgress(vm.Step), e.Message);
            next = await AbandonAsync(vm, $"{BackupSteps.InProgress(vm.Step)}: {e.Message}");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Storage or a silo is briefly away: the same step runs again after a wait, a bounded number of times.
            int failed = vm.FailedAttempts + 1, max = options.Value.MaxStepAttempts;
            string step = BackupSteps.InProgress(vm.Step).ToString(), why = e.GetBaseException().Message;
            if (StepRetry.GivesUp(failed, max))
            {
                logger.LogWarning(e, "Backup job {JobId}: VM {VmId} gave up at {Step} after {Attempts} attempts", JobId, vm.VmId, step, failed);
                next = await AbandonAsync(vm, $"{step}: gave up after {failed} attempts: {why}");
            }
            else
            {
                logger.LogWarning(e, "Backup job {JobId}: VM {VmId} at {Step}, attempt {Attempt} of {Max} failed; trying again", JobId, vm.VmId, step, failed, max);
                _retryAt = clock.GetUtcNow() + StepRetry.Delay(failed);
                await state.SaveAsync(Job with { Vms = Job.Vms.SetItem(i, vm with { FailedAttempts = failed, Error = $"{step}: attempt {failed} of {max} failed ({why}); trying again" }) });
                return false;
            }
        }
        await state.SaveAsync(Job with { Vms = Job.Vms.SetItem(i, next) });
        BackupMetrics.RecordStep(vm, next);
        return true;
    }

    /// <summary>The VM's next step; null while it waits on something that is not done yet.</summary>
    private async Task<BackupVmProgress?> RunStepAsync(BackupVmProgress vm)
    {
        if (vm.Real) return await Guest.RunAsync(vm);
        var disk = Disk(vm.VmId);
        var step = BackupSteps.Next(vm.Step);
        switch (step)
        {
            case BackupStep.Freeze:
                return vm with { Step = step, Consistency = await disk.Freeze(JobId) };
            case BackupStep.Checkpoint:
                var captured = await disk.Checkpoint(JobId);
                var blocks = vm.ParentBackupId is null ? BlockSet.All(BackupSteps.BlockCount(captured.DiskBytes)) : captured.ChangedBlocks;
                // A freeze that ran out before the checkpoint protected nothing: the backup is then crash-consistent.
                var consistency = vm.Consistency == Consistency.FileSystem && !captured.FreezeHeld ? Consistency.Crash : vm.Consistency;
                return vm with { Step = step, Consistency = consistency, Blocks = blocks, DiskBytes = captured.DiskBytes, BytesTotal = blocks.Bytes(captured.DiskBytes) };
            case BackupStep.Thaw:
                return vm with { Step = step, FreezeWindowMs = await disk.Thaw(JobId) };
            case BackupStep.Snapshot:
                return vm with { Step = step, SnapshotId = await disks.SnapshotAsync(vm.VmId, JobId) };
            case BackupStep.Copy:
                var (copied, committed) = await Copy.RoundAsync(vm);
                if (!committed) return copied;
                await GrainFactory.GetGrain<IBackupCatalogGrain>(vm.VmId).Add(new BackupRecord(vm.BackupId, vm.VmId, JobId, clock.GetUtcNow().UtcDateTime,
                    vm.Consistency, vm.ParentBackupId, vm.DiskBytes, vm.ParentBackupId is null ? null : vm.Blocks, vm.BytesTotal, copied.Sha256!, vm.HostId, vm.Config!));
                return copied with { Step = step };
            case BackupStep.Cleanup:
                await disk.MergeCheckpoint(JobId);
                await disks.DeleteSnapshotAsync(vm.VmId, vm.SnapshotId!);
                await disk.ReleaseBackup(JobId, committed: true);   // the record is in the catalog since Copy
                return vm with { Step = step };
            default:
                return vm with { Step = BackupStep.Done };
        }
    }

    /// <summary>Takes every VM (idempotent for this job) and records what a restore will need of each; then the job runs.</summary>
    private async Task TakeVmsAsync()
    {
        var taken = new List<BackupVmProgress>();
        try
        {
            foreach (var vm in Job.Vms)
            {
                // The VM as it is now is what a restore of this backup recreates.
                var info = await GrainFactory.GetGrain<IVmGrain>(vm.VmId).GetInfo();
                var snapshot = info.Snapshot;
                if (info.Driver == HostDriver.Qemu)
                {
                    taken.Add(await Guest.TakeAsync(vm, snapshot, Job.Incremental));
                    continue;
                }
                var disk = await Disk(vm.VmId).AcquireBackup(JobId);
                var parent = Job.Incremental ? await GrainFactory.GetGrain<IBackupCatalogGrain>(vm.VmId).Latest() : null;
                taken.Add(vm with { DiskBytes = disk.SizeBytes, ParentBackupId = parent?.BackupId, HostId = snapshot.HostId, Config = snapshot.Config });
            }
        }
        catch (HvRuleException)
        {
            foreach (var vm in taken.Where(v => v.Real)) await GrainFactory.GetGrain<IHostGrain>(vm.HostId).ReleaseBackup(vm.VmId, JobId);
            foreach (var vm in Job.Vms.Where(v => !taken.Any(t => t.Real && t.VmId == v.VmId))) await ReleaseQuietlyAsync(vm.VmId);
            throw;
        }
        await state.SaveAsync(Job with { State = JobState.Running, Vms = [.. taken] });
    }

    /// <summary>A job a crash left Starting: finish taking its VMs, or forget it as a refused start; false when it must wait.</summary>
    private async Task<bool> ResumeStartAsync()
    {
        try
        {
            // The start that saved the job may have died before its reminder was registered.
            await TakeVmsOrForgetAsync();
            return true;
        }
        catch (HvRuleException e)
        {
            logger.LogWarning("Backup job {JobId}: its start, never answered, is refused on resuming and forgotten: {Error}", JobId, e.Message);
            DeactivateOnIdle();
            return false;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Backup job {JobId}: taking its VMs after a restart failed; trying again", JobId);
            _retryAt = clock.GetUtcNow() + StepRetry.LongestDelay;
            return false;
        }
    }

    private async Task CancelAsync()
    {
        var vms = Job.Vms;
        for (int i = 0; i < vms.Count; i++)
            if (!BackupSteps.Finished(vms[i].Step)) vms = vms.SetItem(i, await AbandonAsync(vms[i], "cancelled by the operator"));
        await state.SaveAsync(Job with { Vms = vms });
        await FinishAsync(JobState.Cancelled);
    }

    /// <summary>A VM whose backup stops short: thawed, checkpoint merged, snapshot and staged blocks removed, let go.</summary>
    private async Task<BackupVmProgress> AbandonAsync(BackupVmProgress vm, string why)
    {
        try
        {
            if (vm.Real)
            {
                await Guest.AbandonAsync(vm);
            }
            else
            {
                if (vm.SnapshotId is not null) await disks.DeleteSnapshotAsync(vm.VmId, vm.SnapshotId);
                if (vm.Step < BackupStep.Copy) await disks.DiscardStagedAsync(vm.BackupId);
                await Disk(vm.VmId).ReleaseBackup(JobId, committed: vm.Step >= BackupStep.Copy);
            }
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Backup job {JobId}: cleanup of VM {VmId} incomplete", JobId, vm.VmId);
        }
        return vm with { Step = BackupStep.Failed, Error = why };
    }

    private async Task FinishAsync(JobState end)
    {
        await state.SaveAsync(Job with { State = end });
        BackupMetrics.RecordJob(end);
        logger.LogInformation("Backup job {JobId} {State}", JobId, end);
        await StopRemindingAsync();
        _timer?.Dispose();
        _timer = null;
        DeactivateOnIdle();
    }

    /// <summary>Refused at start: every VM it may have taken let go, and no trace of the job left.</summary>
    private async Task ForgetAsync()
    {
        _timer?.Dispose();
        _timer = null;
        await StopRemindingAsync();
        await state.ClearStateAsync();
        state.State = new BackupJobState();
    }

    private async Task ReleaseQuietlyAsync(string vmId)
    {
        try { await Disk(vmId).ReleaseBackup(JobId, committed: false); }
        catch (HvRuleException) { }   // an unknown VM holds nothing
    }

    private async Task StopRemindingAsync()
    {
        if (await this.GetReminder(ReminderName) is { } reminder) await this.UnregisterReminder(reminder);
    }

    private BackupJobInfo RequireJob() =>
        Job.Exists ? Info() : throw new HvRuleException("backup-job-must-exist", $"Backup job {JobId} does not exist.");

    private BackupJobInfo Info() => new(JobId, Job.State, Job.Incremental, Job.Vms, RuntimeIdentity, cancel.State.Requested);
}
