using System.Text;
using HvOrleans.Backup;

namespace HvOrleans.Client.Cli;

/// <summary><c>hv disk …</c> and <c>hv backup …</c>.</summary>
public sealed class BackupCommands(TextWriter output)
{
    public const string Help = """
          hv vm set <vm> --guest-agent on|off       whether the guest's VSS daemon runs (off: crash-consistent backups)
          hv disk write <vm> --offset B --length B --seed S    deterministic data, into the guest's buffer
          hv disk flush <vm> | hv disk show <vm> [--json] | hv disk checksum <vm> [--json]
          hv backup start <vm>... [--incremental] [--job ID] [--json]   → jobId (repeating the same --job is safe)
          hv backup show <jobId> [--json] [--wait SECONDS]
          hv backup cancel <jobId> [--json]         stop at the next safe point; everything the job holds is let go
          hv backup list (--vm V | --host H) [--json]       a VM's backups, or those of every VM on a host
          hv backup verify <backupId> [--boot [--host H]] [--json]   --boot (a real VM's): restore into a scratch VM, e2fsck, boot, check, remove
          hv backup restore <backupId> --to <newVm> [--host H] [--op ID] [--json]
                                  (a backup id is <vm>@<job>; a restore repeated with the same --op ID returns the VM it made,
                                  on the host and with the configuration the backup recorded)
        """;

    public Func<IGrainFactory, Task>? Resolve(CommandLine line) => (line.Words[0], line.Words.ElementAtOrDefault(1)) switch
    {
        ("disk", "write") => DiskWrite(line.Word(2, "vm id"), new DiskWrite(LongOption(line, "offset"), line.RequiredMb("length"), LongOption(line, "seed")), line.Json),
        ("disk", "flush") => Disk(line.Word(2, "vm id"), line.Json, disk => disk.Flush()),
        ("disk", "show") => Disk(line.Word(2, "vm id"), line.Json, disk => disk.GetInfo()),
        ("disk", "checksum") => Checksum(line.Word(2, "vm id"), line.Json),
        ("backup", "start") => Start(line.Words.Skip(2).ToList(), line.Flag("incremental"), line.Text("job"), line.Json),
        ("backup", "show") => Show(line.Word(2, "job id"), line.Json, line.OptionalInt("wait") ?? 0),
        ("backup", "cancel") => Cancel(line.Word(2, "job id"), line.Json),
        ("backup", "list") => List(line.Text("vm"), line.Text("host"), line.Json),
        ("backup", "verify") when line.Flag("boot") => VerifyBoot(line.Word(2, "backup id"), line.Text("host"), line.Json),
        ("backup", "verify") => Verify(line.Word(2, "backup id"), line.Json),
        ("backup", "restore") => Restore(line.Word(2, "backup id"), line.Text("to") ?? throw new UsageException("--to <newVm> is required."),
            line.Text("op") ?? $"op-{Guid.NewGuid():N}", line.Text("host"), line.Json),
        _ => null,
    };

    private static long LongOption(CommandLine line, string name) =>
        long.TryParse(line.Text(name) ?? throw new UsageException($"--{name} is required."), out long value)
            ? value : throw new UsageException($"--{name} must be a whole number; got '{line.Text(name)}'.");

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

    private Func<IGrainFactory, Task> Start(IReadOnlyList<string> vmIds, bool incremental, string? givenJobId, bool json)
    {
        // Chosen once, before the first attempt: a retried start finds the job it may already have started.
        string jobId = givenJobId ?? $"job-{DateTime.UtcNow:yyyyMMddHHmmss}-{Guid.NewGuid():N}"[..32];
        return async grains => await Start(grains, vmIds, incremental, jobId, json);
    }

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
            if (live) output.Write("\x1b[H\x1b[J" + Text(job));
            await Task.Delay(500);
            job = await grain.GetInfo();
        }
        if (live) output.Write("\x1b[H\x1b[J");
        output.Write(json ? JsonOutput.Serialize(BackupJobJson.Of(job)) + "\n" : Text(job));
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

    private static string Text(BackupJobInfo job)
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
