using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using HvOrleans.Backup;
using HvOrleans.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace HvOrleans.Tests.Grains;

/// <summary>Live backup through real grains, with disks, snapshots and backup media in Azurite. Bytes are checked, not flags.</summary>
public sealed class BackupGrainTests(AzureClusterFixture fixture) : IClassFixture<AzureClusterFixture>
{
    private const long DiskBytes = 16L * 1024 * 1024;
    private readonly IGrainFactory _grains = fixture.Grains;
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];

    private static readonly DiskWrite A = new(0, 64 * 1024, Seed: 1);
    private static readonly DiskWrite B = new(9L * 1024 * 1024, 128 * 1024, Seed: 2);
    private static readonly DiskWrite C = new(13L * 1024 * 1024 + 4096, 8192, Seed: 3);

    private IVmGrain Vm(string id) => _grains.GetGrain<IVmGrain>(id);
    private IGuestDiskGrain Disk(string id) => _grains.GetGrain<IGuestDiskGrain>(id);
    private IBackupMediaGrain Media(string backupId) => _grains.GetGrain<IBackupMediaGrain>(BackupIds.VmOf(backupId));

    private async Task<string> VmAsync(string name)
    {
        string host = $"bh-{_run}", vm = $"{name}-{_run}";
        await _grains.GetGrain<IHostGrain>(host).Add(65536, 1024);
        await Vm(vm).Create(host, new VmConfig(2048, 512, 8192));
        await Vm(vm).Start();
        return vm;
    }

    private Orleans.Storage.IGrainStorage Storage => ((Orleans.TestingHost.InProcessSiloHandle)fixture.Cluster.Primary!).SiloHost.Services
        .GetRequiredKeyedService<Orleans.Storage.IGrainStorage>(HvOrleans.Grains.GrainStorage.Name);

    private static string Expected(params DiskWrite[] writes) => DiskImage.Sha256(DiskBytes, writes);

    private async Task<BackupJobInfo> StartAsync(bool incremental, params string[] vms) =>
        await _grains.GetGrain<IBackupJobGrain>($"job-{Guid.NewGuid():N}"[..20]).Start(vms, incremental);

    private async Task<BackupJobInfo> WaitAsync(BackupJobInfo job, Func<BackupJobInfo, bool>? until = null) =>
        await Eventually.WaitForAsync(() => _grains.GetGrain<IBackupJobGrain>(job.JobId).GetInfo(),
            until ?? (j => BackupSteps.Finished(j.State)), $"backup job {job.JobId}", seconds: 60);

    private async Task<int> SnapshotsLeftAsync()
    {
        int count = 0;
        await foreach (var b in new BlobServiceClient(fixture.ConnectionString).GetBlobContainerClient("hv-disks")
                           .GetBlobsAsync(BlobTraits.None, BlobStates.Snapshots, prefix: null, CancellationToken.None))
            if (b.Snapshot is not null && b.Name.Contains(_run)) count++;
        return count;
    }

    [Fact]
    public async Task File_system_consistent_backup_holds_buffered_data_and_not_writes_after_the_thaw()
    {
        string vm = await VmAsync("fs");
        await Disk(vm).Write(A);                                         // still only in the guest's buffer
        var job = await StartAsync(false, vm);
        await WaitAsync(job, j => j.Vms[0].Step >= BackupStep.Thaw);
        await Disk(vm).Write(B);                                         // after the thaw: the live disk only
        await Disk(vm).Flush();                                          // …flushed while the checkpoint is open
        await Disk(vm).Write(C);                                         // the guest keeps writing during the copy
        var done = (await WaitAsync(job)).Vms[0];

        Assert.Equal((BackupStep.Done, Consistency.FileSystem), (done.Step, done.Consistency));
        Assert.InRange(done.FreezeWindowMs!.Value, 0.001, 2000);
        Assert.Equal(Expected(A), done.Sha256);
        Assert.Equal(Expected(A, B, C), await Disk(vm).Sha256());     // no write lost
        await Disk(vm).Flush();
        Assert.Equal(Expected(A, B, C), await Disk(vm).Sha256());
        Assert.True((await Media(done.BackupId).Verify(done.BackupId)).Ok);
        string restored = $"fs-restored-{_run}";
        var first = await Media(done.BackupId).Restore(done.BackupId, restored, "op-1");
        Assert.Equal(Expected(A), await Disk(restored).Sha256());
        // The same restore again (an answer lost to a dead silo) is answered with the VM it made ...
        await Vm(restored).Start();
        await Disk(restored).Write(C);
        await Disk(restored).Flush();
        Assert.Equal(first.Snapshot.Config, (await Media(done.BackupId).Restore(done.BackupId, restored, "op-1")).Snapshot.Config);
        Assert.Equal("op-1", await Vm(restored).CreatedBy());
        // ... and writes nothing over it; another restore onto it is refused.
        Assert.Equal(Expected(A, C), await Disk(restored).Sha256());
        Assert.Equal("restore-to-new-vm", (await Assert.ThrowsAsync<HvRuleException>(() => Media(done.BackupId).Restore(done.BackupId, restored, "op-2"))).Rule);
        var disk = await Disk(vm).GetInfo();
        Assert.Equal((false, false, (string?)null), (disk.Frozen, disk.Checkpointed, disk.BackupJob));
        Assert.Equal(0, await SnapshotsLeftAsync());
    }

    [Fact]
    public async Task Without_the_guest_agent_the_backup_is_crash_consistent_and_misses_buffered_data()
    {
        string vm = await VmAsync("crash");
        await Disk(vm).SetGuestAgent(false);
        await Disk(vm).Write(C);
        var done = (await WaitAsync(await StartAsync(false, vm))).Vms[0];
        Assert.Equal((BackupStep.Done, Consistency.Crash), (done.Step, done.Consistency));
        Assert.Equal(Expected(), done.Sha256);                             // the buffered write is not in it
        Assert.Equal(Expected(C), await Disk(vm).Sha256());              // but the guest still has it
        Assert.Null(done.FreezeWindowMs);
    }

    [Fact]
    public async Task Incremental_copies_only_changed_blocks_and_a_chain_restores_byte_identical()
    {
        string vm = await VmAsync("incr");
        await Disk(vm).Write(A);
        var full = (await WaitAsync(await StartAsync(true, vm))).Vms[0];   // no parent yet: a full backup
        Assert.Null(full.ParentBackupId);
        Assert.Equal(DiskBytes, full.BytesCopied);
        await Disk(vm).Write(B);
        await Disk(vm).Flush();
        var incremental = (await WaitAsync(await StartAsync(true, vm))).Vms[0];
        Assert.Equal(full.BackupId, incremental.ParentBackupId);
        Assert.Equal(BackupSteps.BlockBytes, incremental.BytesCopied);     // B touches one 4 MiB block
        Assert.Equal(Expected(A, B), incremental.Sha256);

        await Media(incremental.BackupId).Restore(incremental.BackupId, $"incr-chain-{_run}", "op-chain");
        await Media(full.BackupId).Restore(full.BackupId, $"incr-full-{_run}", "op-full");
        Assert.Equal(await Disk(vm).Sha256(), await Disk($"incr-chain-{_run}").Sha256());
        Assert.Equal(Expected(A), await Disk($"incr-full-{_run}").Sha256());
    }

    [Fact]
    public async Task A_freeze_nobody_thaws_thaws_itself_and_releases_held_writes()
    {
        string vm = await VmAsync("timeout");
        await Disk(vm).AcquireBackup("stuck-job");
        await Disk(vm).Freeze("stuck-job");
        await Disk(vm).Write(A);                                         // held: the file systems are frozen
        Assert.True((await Disk(vm).GetInfo()).Frozen);
        TestClock.Shared.Advance(TimeSpan.FromSeconds(11));              // past the 10 s freeze limit, without waiting for it
        var thawed = await Eventually.WaitForAsync(() => Disk(vm).GetInfo(), d => !d.Frozen, "the guard timer to see the freeze past its deadline");
        Assert.Equal(1, thawed.BufferedWrites);
        Assert.Equal(Expected(A), await Disk(vm).Sha256());
    }

    [Fact]
    public async Task Bad_requests_are_refused_and_change_nothing()
    {
        string vm = await VmAsync("bad"), busy = await VmAsync("busy");
        Assert.Equal("backup-needs-vms", (await Assert.ThrowsAsync<HvRuleException>(() => StartAsync(false))).Rule);
        Assert.Equal("vm-must-exist", (await Assert.ThrowsAsync<HvRuleException>(() => StartAsync(false, vm, $"nope-{_run}"))).Rule);
        Assert.Null((await Disk(vm).GetInfo()).BackupJob);                   // the VM taken first was let go
        await Disk(busy).AcquireBackup("another-job");
        var e = await Assert.ThrowsAsync<HvRuleException>(() => StartAsync(false, vm, busy));
        Assert.Equal("backup-running", e.Rule);
        Assert.Null((await Disk(vm).GetInfo()).BackupJob);
        Assert.Equal("backup-must-exist", (await Assert.ThrowsAsync<HvRuleException>(() => Media($"{vm}@nothing-{_run}").Verify($"{vm}@nothing-{_run}"))).Rule);

        await Disk(vm).Write(A);
        var done = (await WaitAsync(await StartAsync(false, vm))).Vms[0];
        Assert.Equal("restore-to-new-vm", (await Assert.ThrowsAsync<HvRuleException>(() => Media(done.BackupId).Restore(done.BackupId, busy, "op-busy"))).Rule);

        // Corrupt one byte of the backup media: verification fails and restore refuses.
        var blob = new BlobServiceClient(fixture.ConnectionString).GetBlobContainerClient("hv-backups")
            .GetBlobs(BlobTraits.None, BlobStates.None, prefix: null, CancellationToken.None).Select(b => b.Name).Single(n => n.EndsWith(done.BackupId));
        var client = new BlobServiceClient(fixture.ConnectionString).GetBlobContainerClient("hv-backups").GetBlobClient(blob);
        var bytes = (await client.DownloadContentAsync()).Value.Content.ToArray();
        bytes[12345] ^= 0xFF;
        await client.UploadAsync(new BinaryData(bytes), overwrite: true);
        var verify = await Media(done.BackupId).Verify(done.BackupId);
        Assert.False(verify.Ok);
        Assert.Equal("backup-verify", (await Assert.ThrowsAsync<HvRuleException>(() => Media(done.BackupId).Restore(done.BackupId, $"never-{_run}", "op-never"))).Rule);
        Assert.Equal("vm-must-exist", (await Assert.ThrowsAsync<HvRuleException>(() => Vm($"never-{_run}").GetInfo())).Rule);
    }

    /// <summary>The VM's page blob taken away under it: every step that touches it fails for a reason that is not a rule.</summary>
    private async Task<string> VmWithoutItsBlobAsync(string name)
    {
        string vm = await VmAsync(name);
        await Disk(vm).Write(A);
        var disks = new BlobServiceClient(fixture.ConnectionString).GetBlobContainerClient("hv-disks");
        foreach (var blob in disks.GetBlobs(BlobTraits.None, BlobStates.None, prefix: null, CancellationToken.None).Select(b => b.Name).Where(n => n.EndsWith($"/{vm}.vhd")).ToList())
            await disks.DeleteBlobAsync(blob);
        return vm;
    }

    [Fact]
    public async Task A_step_that_keeps_failing_is_tried_a_bounded_number_of_times_then_fails_and_lets_the_vm_go()
    {
        string vm = await VmWithoutItsBlobAsync("stuck");
        var job = await WaitAsync(await StartAsync(false, vm));
        var progress = job.Vms[0];
        Assert.Equal((JobState.Failed, BackupStep.Failed), (job.State, progress.Step));
        Assert.StartsWith("Freeze: gave up after 3 attempts: ", progress.Error);   // Hv:Backup:MaxStepAttempts is 3 here
        var disk = await Disk(vm).GetInfo();
        Assert.Equal((false, false, (string?)null), (disk.Frozen, disk.Checkpointed, disk.BackupJob));
    }

    [Fact]
    public async Task A_cancelled_job_stops_at_a_safe_point_and_lets_everything_go()
    {
        string stuck = await VmWithoutItsBlobAsync("cancel");
        var started = await StartAsync(false, stuck);
        var asked = await _grains.GetGrain<IBackupJobGrain>(started.JobId).Cancel();
        Assert.True(asked.CancelRequested);
        var job = await WaitAsync(started);
        Assert.Equal((JobState.Cancelled, BackupStep.Failed, "cancelled by the operator"), (job.State, job.Vms[0].Step, job.Vms[0].Error));
        var disk = await Disk(stuck).GetInfo();
        Assert.Equal((false, false, (string?)null), (disk.Frozen, disk.Checkpointed, disk.BackupJob));
        Assert.Equal(JobState.Cancelled, (await _grains.GetGrain<IBackupJobGrain>(started.JobId).Cancel()).State);   // again: harmless
        Assert.Equal(0, await SnapshotsLeftAsync());
    }

    [Fact]
    public async Task A_restore_onto_a_name_whose_blob_was_left_behind_reads_back_as_the_backup()
    {
        string vm = await VmAsync("reuse");
        await Disk(vm).Write(A);
        var done = (await WaitAsync(await StartAsync(false, vm))).Vms[0];
        // A page blob of the new VM's name already exists (a VM deleted by hand, a restore that died): full of other bytes.
        string target = $"reused-{_run}";
        var leftover = new BlobServiceClient(fixture.ConnectionString).GetBlobContainerClient("hv-disks")
            .GetPageBlobClient($"{fixture.ServiceId}/{target}.vhd");
        await leftover.CreateAsync(DiskBytes);
        var junk = new byte[BackupSteps.BlockBytes];
        new DiskWrite(0, junk.Length, 99).Fill(junk);
        using (var stream = new MemoryStream(junk)) await leftover.UploadPagesAsync(stream, 2L * BackupSteps.BlockBytes);

        await Media(done.BackupId).Restore(done.BackupId, target, "op-reuse");
        Assert.Equal(Expected(A), await Disk(target).Sha256());
    }

    [Fact]
    public async Task A_stopped_vms_guest_writes_nothing_and_its_backup_says_it_was_offline()
    {
        string vm = await VmAsync("off");
        await Disk(vm).Write(A);                                           // buffered while it runs
        await Vm(vm).Stop();                                               // shut down: the guest syncs
        Assert.Equal(0, (await Disk(vm).GetInfo()).BufferedWrites);
        Assert.Equal("vm-must-be-running", (await Assert.ThrowsAsync<HvRuleException>(() => Disk(vm).Write(B))).Rule);
        Assert.Equal("vm-must-be-running", (await Assert.ThrowsAsync<HvRuleException>(() => Disk(vm).Flush())).Rule);
        Assert.Equal(Expected(A), await Disk(vm).Sha256());                // the refused write changed nothing
        var done = (await WaitAsync(await StartAsync(false, vm))).Vms[0];
        Assert.Equal((BackupStep.Done, Consistency.Offline, Expected(A)), (done.Step, done.Consistency, done.Sha256));
        Assert.Null(done.FreezeWindowMs);                                  // nothing was frozen
    }

    [Fact]
    public async Task A_bad_write_is_refused_and_the_disk_is_unchanged()
    {
        string vm = await VmAsync("badwrite");
        await Disk(vm).Write(A);
        var before = await Disk(vm).GetInfo();
        foreach (var (write, rule) in new[] { (new DiskWrite(1, 512, 1), "write-offset-sector"), (new DiskWrite(0, 100, 1), "write-length-sector"),
                     (new DiskWrite(DiskBytes - 512, 1024, 1), "write-within-disk"), (new DiskWrite(long.MaxValue - 511, 1024, 1), "write-within-disk") })
            Assert.Equal(rule, (await Assert.ThrowsAsync<HvRuleException>(() => Disk(vm).Write(write))).Rule);
        Assert.Equal(before, await Disk(vm).GetInfo());
        Assert.Equal(Expected(A), await Disk(vm).Sha256());
    }

    [Fact]
    public async Task A_job_whose_silo_died_while_it_was_taking_its_vms_finishes_starting_when_it_comes_back()
    {
        string vm = await VmAsync("starting"), other = await VmAsync("starting2");
        await Disk(vm).Write(A);
        await Disk(other).Write(B);
        // As a silo leaves it when it dies during Start: the job saved (Starting), its first VM taken, the second not.
        string jobId = $"job-{Guid.NewGuid():N}"[..20];
        await Disk(vm).AcquireBackup(jobId);
        var starting = new HvOrleans.Grains.BackupJobState(false, JobState.Starting, [BackupVmProgress.Pending(vm, jobId), BackupVmProgress.Pending(other, jobId)]);
        await Storage.WriteStateAsync("job", GrainId.Create("backupjob", jobId), new GrainState<HvOrleans.Grains.BackupJobState>(starting));

        // The reminder (or any call) brings the job back: it takes the rest and runs.
        var job = await WaitAsync(await _grains.GetGrain<IBackupJobGrain>(jobId).GetInfo());
        Assert.Equal((JobState.Completed, Expected(A), Expected(B)), (job.State, job.Vms[0].Sha256, job.Vms[1].Sha256));
        Assert.Null((await Disk(vm).GetInfo()).BackupJob);
        Assert.Null((await Disk(other).GetInfo()).BackupJob);
    }

    [Fact]
    public async Task A_start_retried_for_a_job_its_silo_left_starting_answers_only_once_the_vms_are_taken_or_refused()
    {
        string vm = await VmAsync("retried"), other = await VmAsync("retried2");
        await Disk(vm).Write(A);
        await Disk(other).Write(B);
        // The first start died after taking the first VM; meanwhile another job took the second.
        string jobId = $"job-{Guid.NewGuid():N}"[..20], otherJob = $"job-{Guid.NewGuid():N}"[..20];
        await Disk(vm).AcquireBackup(jobId);
        await Disk(other).AcquireBackup(otherJob);
        var starting = new HvOrleans.Grains.BackupJobState(false, JobState.Starting, [BackupVmProgress.Pending(vm, jobId), BackupVmProgress.Pending(other, jobId)]);
        await Storage.WriteStateAsync("job", GrainId.Create("backupjob", jobId), new GrainState<HvOrleans.Grains.BackupJobState>(starting));

        // The client, never answered, starts it again: refused as a first start is, and nothing of it is left.
        var refused = await Assert.ThrowsAsync<HvRuleException>(() => _grains.GetGrain<IBackupJobGrain>(jobId).Start([vm, other], false));
        Assert.Equal("backup-running", refused.Rule);
        Assert.Equal("backup-job-must-exist", (await Assert.ThrowsAsync<HvRuleException>(() => _grains.GetGrain<IBackupJobGrain>(jobId).GetInfo())).Rule);
        Assert.Null((await Disk(vm).GetInfo()).BackupJob);
        Assert.Equal(otherJob, (await Disk(other).GetInfo()).BackupJob);

        // Once the other job lets go, the same start runs from the beginning and holds both VMs when it answers.
        await Disk(other).ReleaseBackup(otherJob, committed: false);
        var started = await _grains.GetGrain<IBackupJobGrain>(jobId).Start([vm, other], false);
        Assert.Equal(JobState.Running, started.State);                      // saved so only once every VM is taken
        Assert.All(started.Vms, v => Assert.Equal(DiskBytes, v.DiskBytes));
        var job = await WaitAsync(started);
        Assert.Equal((JobState.Completed, Expected(A), Expected(B)), (job.State, job.Vms[0].Sha256, job.Vms[1].Sha256));
    }
}
