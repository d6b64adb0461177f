using System.CommandLine;
using System.Text;
using static HvOrleans.Client.Cli.Symbols;
using HvOrleans.Backup;

namespace HvOrleans.Client.Cli;

/// <summary><c>hv disk …</c> and <c>hv backup …</c>.</summary>
public sealed class BackupCommands(TextWriter output, CommandTree tree, Func<Func<IGrainFactory, Task>, CancellationToken, Task<int>> onCluster)
{
    public Command Disk()
    {
        Argument<string> Vm() => Id("vm", "VM id");
        var (write, offset, length, seed) = (Vm(), RequiredLong("--offset", "Where the write starts, in bytes", "B"),
            RequiredInt("--length", "How many bytes", "B"), RequiredLong("--seed", "The data's seed (the same seed writes the same bytes)", "S"));
        var (flush, show, checksum) = (Vm(), Vm(), Vm());
        return tree.Group("disk", "A modelled guest's disk: deterministic writes into its buffer, flushes, checksums.", ["hv disk write vm1 --offset 0 --length 4096 --seed 1", "hv disk checksum vm1"],
            Op("write", "Writes deterministic data into the guest's buffer (flushed by the guest, or frozen by a backup).",
                ["hv disk write vm1 --offset 0 --length 65536 --seed 7"], [write, offset, length, seed],
                p => DiskWrite(p.GetValue(write)!, new DiskWrite(p.GetValue(offset), p.GetValue(length), p.GetValue(seed)), p.GetValue(Json))),
            Op("flush", "Flushes the guest's buffered writes to its disk.", ["hv disk flush vm1"], [flush],
                p => Disk(p.GetValue(flush)!, p.GetValue(Json), disk => disk.Flush())),
            Op("show", "The disk's size, guest agent, buffered writes, and any backup holding it.", ["hv disk show vm1 --json"], [show],
                p => Disk(p.GetValue(show)!, p.GetValue(Json), disk => disk.GetInfo())),
            Op("checksum", "The SHA-256 of the disk as it is now.", ["hv disk checksum vm1"], [checksum],
                p => Checksum(p.GetValue(checksum)!, p.GetValue(Json))));
    }

    public Command Backup(Command bench)
    {
        var vms = Ids("vm", "VM id", "The VMs to back up together");
        var (incremental, job) = (Flag("--incremental", "Copy only what changed since each VM's last backup"),
            Text("--job", "The job id (repeating a start with the same id is safe); default a new one", "ID"));
        var (show, wait) = (Id("job", "job id"), IntIn("--wait", "Follow the job until it ends or this many seconds pass", 0, 86_400, 0, "SECONDS"));
        var cancel = Id("job", "job id");
        var (listVm, listHost) = (Text("--vm", "A VM's backups", "VM"), Text("--host", "The backups of every VM on a host", "HOST"));
        var (verify, boot, bootHost) = (Id("backup", "backup id"), Flag("--boot", "A real VM's: restore into a scratch VM, e2fsck, boot, check, remove"),
            Text("--host", "Where --boot restores (default the backup's host)", "HOST"));
        var (restore, to, op, toHost) = (Id("backup", "backup id"), Text("--to", "The new VM's id", "VM", required: true),
            Text("--op", "The operation id: a restore repeated with the same id returns the VM it made", "ID"), Text("--host", "The host for the new VM (default the backup's)", "HOST"));
        return tree.Group("backup", "Live backups: start, follow, cancel, list, verify and restore. A backup id is <vm>@<job>.",
            ["hv backup start vm1 vm2", "hv backup list --vm vm1", "hv backup restore vm1@job-1 --to vm1-copy"],
            Op("start", "Backs up one or more running VMs together: freeze, checkpoint, thaw, copy. Prints the job id.",
                ["hv backup start vm1 vm2", "hv backup start vm1 --incremental --job nightly-vm1"], [vms, incremental, job],
                p =>
                {
                    // Chosen once, before the first attempt: a retried start finds the job it may already have started.
                    string jobId = p.GetValue(job) ?? $"job-{DateTime.UtcNow:yyyyMMddHHmmss}-{Guid.NewGuid():N}"[..32];
                    var (ids, isIncremental, json) = (p.GetValue(vms)!, p.GetValue(incremental), p.GetValue(Json));
                    return grains => Start(grains, ids, isIncremental, jobId, json);
                }),
            Op("show", "A job's state and each VM's step, bytes and freeze window; --wait follows it live.", ["hv backup show job-1", "hv backup show job-1 --wait 600"], [show, wait],
                p => Show(p.GetValue(show)!, p.GetValue(Json), p.GetValue(wait))),
            Op("cancel", "Stops a job at its next safe point; everything it holds is let go.", ["hv backup cancel job-1"], [cancel],
                p => Cancel(p.GetValue(cancel)!, p.GetValue(Json))),
            Op("list", "A VM's backups, or those of every VM on a host (exactly one of --vm and --host).", ["hv backup list --vm vm1", "hv backup list --host h1 --json"], [listVm, listHost],
                p => List(p.GetValue(listVm), p.GetValue(listHost), p.GetValue(Json))),
            Op("verify", "Re-reads a backup from the media and checks its SHA-256; --boot also restores and boots a real VM's.",
                ["hv backup verify vm1@job-1", "hv backup verify db1@job-2 --boot"], [verify, boot, bootHost],
                p => p.GetValue(boot) ? VerifyBoot(p.GetValue(verify)!, p.GetValue(bootHost), p.GetValue(Json)) : Verify(p.GetValue(verify)!, p.GetValue(Json))),
            Op("restore", "Restores a backup into a new, stopped VM (on the host and with the configuration the backup recorded, unless --host).",
                ["hv backup restore vm1@job-1 --to vm1-copy", "hv backup restore vm1@job-1 --to vm1-copy --op restore-42"], [restore, to, op, toHost],
                p => Restore(p.GetValue(restore)!, p.GetValue(to)!, p.GetValue(op) ?? $"op-{Guid.NewGuid():N}", p.GetValue(toHost), p.GetValue(Json))),
            bench);
    }

    private Command Op(string name, string description, string[] examples, Symbol[] symbols, Func<ParseResult, Func<IGrainFactory, Task>> resolve) =>
        tree.Leaf(name, description, examples, [.. symbols, Json], (parse, ct) => onCluster(resolve(parse), ct));

    private Func<IGrainFactory, Task> DiskWrite(string vmId, DiskWrite write, bool json) => Disk(vmId, json, disk => disk.Write(write));

    private Func<IGrainFactory, Task> Disk(string vmId, bool json, Func<IGuestDiskGrain, Task<DiskInfo>> call) => async grains =>
    {
        var d = await call(grains.GetGrain<IGuestDiskGrain>(vmId));
        output.Write(json ? JsonOutput.Serialize(DiskJson.Of(d)) + "\n"
            : $"VM {d.VmId}: disk {d.SizeBytes / 1048576} MB, guest agent {(d.GuestAgent ? "on" : "off")}, {d.BufferedWrites} buffered write(s)" +
              $"{(d.Frozen ? ", FROZEN" : "")}{(d.Checkpointed ? ", checkpoint open" : "")}{(d.BackupJob is { } j ? $", backup job {j}" : "")}\n");
    };

    private Func<IGrainFactory, Task> Checksum(string vmId, bool json) => async grains =>
    {
        string sha = await grains.GetGrain<IGuestDiskGrain>(vmId).Sha256();
        output.Write(json ? JsonOutput.Serialize(new ChecksumJson(vmId, sha)) + "\n" : $"{sha}  {vmId}\n");
    };

    private async Task Start(IGrainFactory grains, IReadOnlyList<string> vmIds, bool incremental, string jobId, bool json)
    {
        var job = await grains.GetGrain<IBackupJobGrain>(jobId).Start(vmIds, incremental);
        output.Write(json ? JsonOutput.Serialize(new BackupStartedJson(job.JobId)) + "\n" : $"backup job {job.JobId}: {job.State}; follow it with: hv backup show {job.JobId} --wait 600\n");
    }

    private Func<IGrainFactory, Task> Show(string jobId, bool json, int waitSeconds) => async grains =>
    {
        var grain = grains.GetGrain<IBackupJobGrain>(jobId);
        var job = await grain.GetInfo();
        var deadline = DateTime.UtcNow.AddSeconds(waitSeconds);
        bool live = !json && !Console.IsOutputRedirected && waitSeconds > 0;
        while (!BackupSteps.Finished(job.State) && DateTime.UtcNow < deadline)
        {
            if (live) output.Write("\x1b[H\x1b[J" + JobText(job));
            await Task.Delay(500);
            job = await grain.GetInfo();
        }
        if (live) output.Write("\x1b[H\x1b[J");
        output.Write(json ? JsonOutput.Serialize(BackupJobJson.Of(job)) + "\n" : JobText(job));
    };

    private Func<IGrainFactory, Task> Cancel(string jobId, bool json) => async grains =>
    {
        var job = await grains.GetGrain<IBackupJobGrain>(jobId).Cancel();
        output.Write(json ? JsonOutput.Serialize(BackupJobJson.Of(job)) + "\n"
            : BackupSteps.Finished(job.State) ? $"backup job {jobId} already ended: {job.State}\n"
            : $"backup job {jobId}: cancel requested; it stops at its next safe point (hv backup show {jobId} --wait 60)\n");
    };

    private Func<IGrainFactory, Task> List(string? vmId, string? hostId, bool json)
    {
        if ((vmId is null) == (hostId is null)) throw new UsageException("Give exactly one of --vm and --host.");
        return async grains =>
        {
            List<string> vms = vmId is not null ? [vmId] : (await grains.GetGrain<IHostGrain>(hostId!).GetInfo()).AssignedMbByVm.Keys.Order(StringComparer.Ordinal).ToList();
            var backups = (await Task.WhenAll(vms.Select(vm => grains.GetGrain<IBackupCatalogGrain>(vm).List()))).SelectMany(b => b).OrderBy(b => b.CreatedUtc).ToList();
            PrintList(backups, json);
        };
    }

    private void PrintList(IReadOnlyList<BackupRecord> backups, bool json)
    {
        if (json) { output.Write(JsonOutput.Serialize(backups.Select(BackupRecordJson.Of).ToList()) + "\n"); return; }
        foreach (var b in backups)
            output.Write($"{b.BackupId,-50} {b.VmId,-16} {b.CreatedUtc:u} {b.Consistency,-10} {(b.ParentBackupId is null ? "full" : "incremental"),-11} {b.StoredBytes / 1048576.0,8:F1} MB  {b.Sha256[..16]}\n");
    }

    private Func<IGrainFactory, Task> Verify(string backupId, bool json) => async grains =>
    {
        var v = await grains.GetGrain<IBackupMediaGrain>(BackupIds.VmOf(backupId)).Verify(backupId);
        output.Write(json ? JsonOutput.Serialize(VerifyJson.Of(v)) + "\n" : v.Ok ? $"backup {backupId}: OK, sha256 {v.Actual}\n" : "");
        if (!v.Ok) throw new HvRuleException("backup-verify", $"Backup {backupId} fails verification: recorded sha256 {v.Expected}, read {v.Actual}.");
    };

    /// <summary>
    /// Veeam's SureBackup for a real VM's backup: the media re-read, the chain restored into a scratch
    /// VM (every chunk verified, e2fsck -fn of each ext4 disk), booted, a command run in it, and the
    /// scratch VM stopped and deleted, whatever happened.
    /// </summary>
    private Func<IGrainFactory, Task> VerifyBoot(string backupId, string? hostId, bool json)
    {
        // Chosen once: a retried command restores into the same scratch VM (the restore is idempotent per operation).
        string scratch = $"verify-{Guid.NewGuid():N}"[..16], operationId = $"op-{Guid.NewGuid():N}";
        return async grains =>
        {
            var media = grains.GetGrain<IBackupMediaGrain>(BackupIds.VmOf(backupId));
            var v = await media.Verify(backupId);
            if (!v.Ok) throw new HvRuleException("backup-verify", $"Backup {backupId} fails verification: recorded sha256 {v.Expected}, read {v.Actual}.");
            var report = await media.RestoreTo(backupId, scratch, operationId, hostId);
            var vm = grains.GetGrain<IVmGrain>(scratch);
            string host = report.Vm.Snapshot.HostId, guestCheck;
            double bootSeconds;
            try
            {
                Rule.Require(report.Vm.Driver == HostDriver.Qemu, "verify-boot-real-only", $"Backup {backupId} is of a modelled VM: there is no guest to boot.");
                await vm.Start();
                var clock = System.Diagnostics.Stopwatch.StartNew();
                while ((await vm.GetInfo()).Real?.State != GuestRunState.Running)
                {
                    Rule.Require(clock.Elapsed < BootLimit, "verify-boot-timeout", $"The restored VM {scratch} did not boot within {BootLimit.TotalSeconds:0} s.");
                    await Task.Delay(250);
                }
                bootSeconds = clock.Elapsed.TotalSeconds;
                var check = await grains.GetGrain<IHostGrain>(host).ExecInGuest(scratch,
                    ["sh", "-c", "grep -q ' /data ' /proc/mounts && echo \"/data mounted, $(ls -A /data | wc -l) entries\""], TimeSpan.FromSeconds(20));
                guestCheck = check.ExitCode == 0 ? check.StdOut.Trim() : $"failed (exit {check.ExitCode}): /data is not mounted in the restored guest {check.StdErr.Trim()}";
            }
            finally
            {
                await RemoveScratchAsync(vm);
            }
            bool ok = guestCheck.StartsWith("/data mounted", StringComparison.Ordinal)
                && report.Disks.All(d => d.FileSystemCheck.StartsWith("clean", StringComparison.Ordinal) || d.FileSystemCheck == "not ext4");
            output.Write(json ? JsonOutput.Serialize(new VerifyBootJson(backupId, ok, scratch, host, Math.Round(bootSeconds, 2), guestCheck,
                    report.Disks.Select(d => new RestoredDiskJson(d.Index, d.SizeBytes, d.ImageSha256, d.FileSystemCheck, d.BytesRead)).ToList())) + "\n"
                : $"backup {backupId}: media OK; restored into {scratch} on {host}, booted in {bootSeconds:0.0} s; guest: {guestCheck}\n" +
                  string.Concat(report.Disks.Select(d => $"  disk {d.Index}: {d.FileSystemCheck}\n")) + $"  {scratch} removed\n");
            if (!ok) throw new HvRuleException("backup-verify-boot", $"Backup {backupId} restored but did not pass: guest {guestCheck}; disks {string.Join("; ", report.Disks.Select(d => d.FileSystemCheck))}.");
        };
    }

    private static readonly TimeSpan BootLimit = TimeSpan.FromSeconds(120);

    /// <summary>Stops and deletes a scratch VM; its agent needs a moment to shut the guest down before the disks can go.</summary>
    private static async Task RemoveScratchAsync(IVmGrain vm)
    {
        await vm.Stop();
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await vm.Delete();
                return;
            }
            catch (HvRuleException e) when (e.Rule == "vm-must-be-stopped" && attempt < 60)
            {
                await Task.Delay(500);
            }
        }
    }

    private Func<IGrainFactory, Task> Restore(string backupId, string newVmId, string operationId, string? hostId, bool json) => async grains =>
    {
        var report = await grains.GetGrain<IBackupMediaGrain>(BackupIds.VmOf(backupId)).RestoreTo(backupId, newVmId, operationId, hostId);
        var vm = report.Vm;
        if (vm.Driver == HostDriver.Qemu)
        {
            output.Write(json ? JsonOutput.Serialize(new RestoreJson(newVmId, vm.Snapshot.HostId, null,
                    report.Disks.Select(d => new RestoredDiskJson(d.Index, d.SizeBytes, d.ImageSha256, d.FileSystemCheck, d.BytesRead)).ToList())) + "\n"
                : $"restored {backupId} into VM {newVmId} on host {vm.Snapshot.HostId} (stopped; start it with: hv vm start {newVmId})\n" +
                  string.Concat(report.Disks.Select(d => $"  disk {d.Index}: {d.SizeBytes / 1048576} MB, {d.BytesRead / 1048576.0:F1} MB read, image sha256 {d.ImageSha256[..16]}…, {d.FileSystemCheck}\n")));
            return;
        }
        string sha = await grains.GetGrain<IGuestDiskGrain>(newVmId).Sha256();
        output.Write(json ? JsonOutput.Serialize(new RestoreJson(newVmId, vm.Snapshot.HostId, sha)) + "\n"
            : $"restored {backupId} into VM {newVmId} on host {vm.Snapshot.HostId} (stopped); disk sha256 {sha}\n");
    };

    private static BackupStep Current(BackupVmProgress v) => BackupSteps.InProgress(v.Step);

    private static string JobText(BackupJobInfo job)
    {
        var text = new StringBuilder($"backup job {job.JobId}: {job.State}{(job.Incremental ? " (incremental)" : "")}{(job.CancelRequested && !BackupSteps.Finished(job.State) ? ", cancel requested" : "")}\n");
        foreach (var v in job.Vms)
        {
            double share = v.BytesTotal == 0 ? 0 : (double)v.BytesCopied / v.BytesTotal;
            int filled = (int)(24 * share);
            text.Append($"  {v.VmId,-16} {Current(v),-10} [{new string('#', filled)}{new string('.', 24 - filled)}] {v.BytesCopied / 1048576.0,7:F1}/{v.BytesTotal / 1048576.0:F1} MB" +
                        $"  {v.Consistency,-10} freeze {(v.FreezeWindowMs is { } w ? $"{w:F1} ms" : "—")}");
            if (v.Step == BackupStep.Done) text.Append($"  backup {v.BackupId} sha256 {v.Sha256?[..16]}…");
            if (v.Note is not null) text.Append($"  note: {v.Note}");
            if (v.Error is not null) text.Append($"  error: {v.Error}");
            text.Append('\n');
        }
        return text.ToString();
    }
}
