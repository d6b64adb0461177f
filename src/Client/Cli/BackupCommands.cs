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
          hv backup list [--vm V] [--json]
          hv backup verify <backupId> [--json] | hv backup restore <backupId> --to <newVm> [--op ID] [--json]
                                  (a restore repeated with the same --op ID returns the VM it made)
          hv backup bench [--vms 20] [--rounds 2] [--json]   HvOrleans vs a plain SDK copy of the same disks
        """;

    public Func<IGrainFactory, Task>? Resolve(CommandLine line) => (line.Words[0], line.Words.ElementAtOrDefault(1)) switch
    {
        ("disk", "write") => DiskWrite(line.Word(2, "vm id"), new DiskWrite(LongOption(line, "offset"), line.RequiredMb("length"), LongOption(line, "seed")), line.Json),
        ("disk", "flush") => Disk(line.Word(2, "vm id"), line.Json, vm => vm.FlushDisk()),
        ("disk", "show") => Disk(line.Word(2, "vm id"), line.Json, vm => vm.GetDisk()),
        ("disk", "checksum") => Checksum(line.Word(2, "vm id"), line.Json),
        ("backup", "start") => Start(line.Words.Skip(2).ToList(), line.Flag("incremental"), line.Text("job"), line.Json),
        ("backup", "show") => Show(line.Word(2, "job id"), line.Json, line.OptionalInt("wait") ?? 0),
        ("backup", "list") => List(line.Text("vm"), line.Json),
        ("backup", "verify") => Verify(line.Word(2, "backup id"), line.Json),
        ("chaos", "run") => Chaos(double.TryParse(line.Text("minutes") ?? "2", System.Globalization.CultureInfo.InvariantCulture, out var m) ? m : throw new UsageException("--minutes is a number."),
            line.OptionalInt("seed") ?? 1, line.Json),
        ("cluster", "failover") => Failover(line.OptionalInt("kills") ?? 10, line.OptionalInt("seed") ?? 1, line.Json),
        ("backup", "bench") => Bench(line.OptionalInt("vms") ?? 20, line.OptionalInt("rounds") ?? 2, line.Json),
        ("backup", "restore") => Restore(line.Word(2, "backup id"), line.Text("to") ?? throw new UsageException("--to <newVm> is required."),
            line.Text("op") ?? $"op-{Guid.NewGuid():N}", line.Json),
        _ => null,
    };

    private Func<IGrainFactory, Task> Chaos(double minutes, int seed, bool json) => async grains =>
    {
        if (!await new ChaosWorkload(output, Console.Error).RunAsync(grains, minutes, seed, json))
            throw new HvRuleException("chaos-violations", "The chaos run found violations (listed above).");
    };

    private Func<IGrainFactory, Task> Failover(int kills, int seed, bool json) => grains =>
        new FailoverProbe(output, Console.Error).RunAsync(grains, kills, seed, json);

    private Func<IGrainFactory, Task> Bench(int vms, int rounds, bool json) => grains =>
        new BackupBench(output, Console.Error).RunAsync(grains, vms, rounds, json);

    private static long LongOption(CommandLine line, string name) =>
        long.TryParse(line.Text(name) ?? throw new UsageException($"--{name} is required."), out long value)
            ? value : throw new UsageException($"--{name} must be a whole number; got '{line.Text(name)}'.");

    private Func<IGrainFactory, Task> DiskWrite(string vmId, DiskWrite write, bool json) => Disk(vmId, json, vm => vm.WriteDisk(write));

    private Func<IGrainFactory, Task> Disk(string vmId, bool json, Func<IVmGrain, Task<DiskInfo>> call) => async grains =>
    {
        var d = await call(grains.GetGrain<IVmGrain>(vmId));
        output.Write(json ? JsonViews.Serialize(d) + "\n"
            : $"VM {d.VmId}: disk {d.SizeBytes / 1048576} MB, guest agent {(d.GuestAgent ? "on" : "off")}, {d.BufferedWrites} buffered write(s)" +
              $"{(d.Frozen ? ", FROZEN" : "")}{(d.Checkpointed ? ", checkpoint open" : "")}{(d.BackupJob is { } j ? $", backup job {j}" : "")}\n");
    };

    private Func<IGrainFactory, Task> Checksum(string vmId, bool json) => async grains =>
    {
        string sha = await grains.GetGrain<IVmGrain>(vmId).DiskSha256();
        output.Write(json ? JsonViews.Serialize(new { vmId, sha256 = sha }) + "\n" : $"{sha}  {vmId}\n");
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
        output.Write(json ? JsonViews.Serialize(new { jobId = job.JobId }) + "\n" : $"backup job {job.JobId}: {job.State}; follow it with: hv backup show {job.JobId} --wait 600\n");
    }

    private Func<IGrainFactory, Task> Show(string jobId, bool json, int waitSeconds) => async grains =>
    {
        var grain = grains.GetGrain<IBackupJobGrain>(jobId);
        var job = await grain.GetInfo();
        var deadline = DateTime.UtcNow.AddSeconds(waitSeconds);
        bool live = !json && !Console.IsOutputRedirected && waitSeconds > 0;
        while (job.State == JobState.Running && DateTime.UtcNow < deadline)
        {
            if (live) output.Write("\x1b[H\x1b[J" + Text(job));
            await Task.Delay(500);
            job = await grain.GetInfo();
        }
        if (live) output.Write("\x1b[H\x1b[J");
        output.Write(json ? JsonViews.Serialize(Json(job)) + "\n" : Text(job));
    };

    private Func<IGrainFactory, Task> List(string? vmId, bool json) => async grains =>
    {
        var backups = await grains.GetGrain<IBackupCatalogGrain>(0).List(vmId);
        if (json) { output.Write(JsonViews.Serialize(backups.Select(RecordJson)) + "\n"); return; }
        foreach (var b in backups)
            output.Write($"{b.BackupId,-50} {b.VmId,-16} {b.CreatedUtc:u} {b.Consistency,-10} {(b.ParentBackupId is null ? "full" : "incremental"),-11} {b.StoredBytes / 1048576.0,8:F1} MB  {b.Sha256[..16]}\n");
    };

    private Func<IGrainFactory, Task> Verify(string backupId, bool json) => async grains =>
    {
        var v = await grains.GetGrain<IBackupCatalogGrain>(0).Verify(backupId);
        output.Write(json ? JsonViews.Serialize(v) + "\n" : v.Ok ? $"backup {backupId}: OK, sha256 {v.Actual}\n" : "");
        if (!v.Ok) throw new HvRuleException("backup-verify", $"Backup {backupId} fails verification: recorded sha256 {v.Expected}, read {v.Actual}.");
    };

    private Func<IGrainFactory, Task> Restore(string backupId, string newVmId, string operationId, bool json) => async grains =>
    {
        var vm = await grains.GetGrain<IBackupCatalogGrain>(0).Restore(backupId, newVmId, operationId);
        string sha = await grains.GetGrain<IVmGrain>(newVmId).DiskSha256();
        output.Write(json ? JsonViews.Serialize(new { vmId = newVmId, hostId = vm.Snapshot.HostId, sha256 = sha }) + "\n"
            : $"restored {backupId} into VM {newVmId} on host {vm.Snapshot.HostId} (stopped); disk sha256 {sha}\n");
    };

    private static BackupStep Current(BackupVmProgress v) => BackupSteps.InProgress(v.Step);

    private static object Json(BackupJobInfo job) => new
    {
        jobId = job.JobId, state = job.State.ToString(), incremental = job.Incremental, silo = job.Silo,
        vms = job.Vms.Select(v => new
        {
            vm = v.VmId, step = Current(v).ToString(), consistency = v.Consistency.ToString(), bytesCopied = v.BytesCopied,
            bytesTotal = v.BytesTotal, freezeWindowMs = v.FreezeWindowMs is { } w ? Math.Round(w, 3) : (double?)null,
            backupId = v.BackupId, parentBackupId = v.ParentBackupId, sha256 = v.Sha256, error = v.Error,
        }),
    };

    private static object RecordJson(BackupRecord b) => new
    {
        backupId = b.BackupId, vm = b.VmId, jobId = b.JobId, createdUtc = b.CreatedUtc, consistency = b.Consistency.ToString(),
        kind = b.ParentBackupId is null ? "full" : "incremental", parentBackupId = b.ParentBackupId, diskBytes = b.DiskBytes,
        storedBytes = b.StoredBytes, sha256 = b.Sha256,
    };

    private static string Text(BackupJobInfo job)
    {
        var text = new StringBuilder($"backup job {job.JobId}: {job.State}{(job.Incremental ? " (incremental)" : "")}\n");
        foreach (var v in job.Vms)
        {
            double share = v.BytesTotal == 0 ? 0 : (double)v.BytesCopied / v.BytesTotal;
            int filled = (int)(24 * share);
            text.Append($"  {v.VmId,-16} {Current(v),-10} [{new string('#', filled)}{new string('.', 24 - filled)}] {v.BytesCopied / 1048576.0,7:F1}/{v.BytesTotal / 1048576.0:F1} MB" +
                        $"  {v.Consistency,-10} freeze {(v.FreezeWindowMs is { } w ? $"{w:F1} ms" : "—")}");
            if (v.Step == BackupStep.Done) text.Append($"  backup {v.BackupId} sha256 {v.Sha256?[..16]}…");
            if (v.Error is not null) text.Append($"  error: {v.Error}");
            text.Append('\n');
        }
        return text.ToString();
    }
}
