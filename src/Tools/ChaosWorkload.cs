using System.Diagnostics;

namespace HvOrleans.Tools;

/// <summary>
/// <c>hv chaos run --minutes M --seed S</c>: a bounded workload — hosts and VMs with changing demand,
/// balancing, backup jobs — that keeps going while <c>infra/chaos.sh</c> kills silos and pauses
/// Azurite, then checks what was persisted against what was acknowledged. Every operation is
/// retried until it is acknowledged (they are all safe to repeat: the same demand, the same pass,
/// the same --job id). Exit code 1 on any violation.
/// </summary>
public sealed class ChaosWorkload(TextWriter output, TextWriter error)
{
    private const int Hosts = 3, VmsPerHost = 4;
    private static readonly TimeSpan CallBound = TimeSpan.FromSeconds(2), VerifyBound = TimeSpan.FromMinutes(2);
    private readonly List<double> _outagesMs = [];
    private long _operations, _retries;

    public static Func<IGrainFactory, ClusterConnectionOptions, Task<bool>> Command(CommandLine line, TextWriter output, TextWriter error)
    {
        double minutes = double.TryParse(line.Text("minutes") ?? "2", System.Globalization.CultureInfo.InvariantCulture, out var m) && m > 0
            ? m : throw new UsageException($"--minutes is a positive number; got '{line.Text("minutes")}'.");
        int seed = line.OptionalInt("seed") ?? 1;
        string? audit = line.Text("audit");
        bool json = line.Json;
        return (grains, _) => new ChaosWorkload(output, error).RunAsync(grains, minutes, seed, audit, json);
    }

    public async Task<bool> RunAsync(IGrainFactory grains, double minutes, int seed, string? auditDirectory, bool json)
    {
        var random = new Random(seed);
        string run = $"chaos{seed}-{Guid.NewGuid():N}"[..16];
        var hosts = Enumerable.Range(0, Hosts).Select(h => $"{run}-h{h}").ToArray();
        var vms = hosts.SelectMany(h => Enumerable.Range(0, VmsPerHost).Select(v => (Host: h, Vm: $"{h}-v{v}"))).ToArray();
        foreach (var h in hosts) await Retry(() => grains.GetGrain<IHostGrain>(h).Add(16384, 1024));
        foreach (var (h, v) in vms)
        {
            await Retry(() => grains.GetGrain<IVmGrain>(v).Create(h, new VmConfig(1024, 512, 8192)));
            await Retry(() => grains.GetGrain<IVmGrain>(v).Start());
            await Retry(() => grains.GetGrain<IGuestDiskGrain>(v).Write(new DiskWrite(0, 65536, seed)));
        }
        var acknowledged = new Dictionary<string, int>();
        var highWater = vms.ToDictionary(x => x.Vm, _ => 0);
        var shrank = new List<string>();
        var jobs = new List<string>();
        var deadline = DateTime.UtcNow.AddMinutes(minutes);
        var clock = Stopwatch.StartNew();
        for (int i = 0; DateTime.UtcNow < deadline; i++)
        {
            var (host, vm) = vms[random.Next(vms.Length)];
            int demandMb = 200 + random.Next(5000);
            var info = await Retry(() => grains.GetGrain<IVmGrain>(vm).ReportDemand(demandMb));
            acknowledged[vm] = demandMb;
            if (info.Snapshot.Memory.HighWaterMb < highWater[vm]) shrank.Add($"{vm}: {highWater[vm]} → {info.Snapshot.Memory.HighWaterMb} MB");
            highWater[vm] = Math.Max(highWater[vm], info.Snapshot.Memory.HighWaterMb);
            if (i % 10 == 0) await Retry(() => grains.GetGrain<IHostBalancerGrain>(host).BalanceNow());
            if (i % 40 == 0)
            {
                string jobId = $"{run}-job{jobs.Count}";
                var target = vms[random.Next(vms.Length)].Vm;
                try
                {
                    await Retry(() => grains.GetGrain<IBackupJobGrain>(jobId).Start([target], false));
                    jobs.Add(jobId);
                }
                catch (HvRuleException e) when (e.Rule == "backup-running") { }   // that VM's backup is still running: fine
            }
            if (clock.ElapsedMilliseconds > 5000) { error.WriteLine($"chaos: {_operations} operations, {jobs.Count} backup jobs, {_outagesMs.Count} outages"); clock.Restart(); }
            await Task.Delay(50);
        }

        // Check what the cluster persisted against what it acknowledged.
        var violations = new List<string>(shrank.Select(s => $"guest total shrank: {s}"));
        foreach (var (vm, demandMb) in acknowledged)
        {
            var info = await Retry(() => grains.GetGrain<IVmGrain>(vm).GetInfo());
            if (info.Snapshot.Memory.DemandMb != demandMb) violations.Add($"{vm}: acknowledged demand {demandMb} MB, persisted {info.Snapshot.Memory.DemandMb} MB");
            var (c, m) = (info.Snapshot.Config, info.Snapshot.Memory);
            if (m.Running && (m.AssignedMb < c.MinimumMb || m.AssignedMb > c.MaximumMb)) violations.Add($"{vm}: assigned {m.AssignedMb} MB outside [{c.MinimumMb}, {c.MaximumMb}]");
        }
        foreach (var h in hosts)
        {
            var info = await Retry(() => grains.GetGrain<IHostGrain>(h).GetInfo());
            if (info.AssignedMb > info.CapacityMb) violations.Add($"{h}: assigns {info.AssignedMb} MB of {info.CapacityMb} MB");
        }
        // Every job finished, then every backup verified: one VM's after another, the VMs side by side.
        var backups = new List<(string VmId, string BackupId)>();
        foreach (var jobId in jobs)
        {
            var job = await Retry(() => grains.GetGrain<IBackupJobGrain>(jobId).GetInfo());
            var waitUntil = DateTime.UtcNow.AddMinutes(3);
            while (!BackupSteps.Finished(job.State) && DateTime.UtcNow < waitUntil)
            {
                await Task.Delay(500);
                job = await Retry(() => grains.GetGrain<IBackupJobGrain>(jobId).GetInfo());
            }
            if (job.State != JobState.Completed) violations.Add($"backup job {jobId}: {job.State} {job.Vms[0].Error}");
            else backups.Add((job.Vms[0].VmId, job.Vms[0].BackupId));
        }
        var verifyClock = Stopwatch.StartNew();
        var results = await Task.WhenAll(backups.GroupBy(b => b.VmId).Select(async vm =>
        {
            var failed = new List<string>();
            var clock = Stopwatch.StartNew();
            foreach (var (_, backupId) in vm)
            {
                // Reading a whole backup back takes seconds, not the workload's 2 s call bound.
                var verify = await Retry(() => grains.GetGrain<IBackupMediaGrain>(vm.Key).Verify(backupId), VerifyBound);
                if (!verify.Ok) failed.Add($"backup {verify.BackupId} fails verification");
            }
            return (Failed: failed, Seconds: clock.Elapsed.TotalSeconds);
        }));
        // The VMs' times side by side: the whole takes about the slowest VM's, not their sum.
        var (verifySeconds, slowestVmSeconds, sumVmSeconds) = (Math.Round(verifyClock.Elapsed.TotalSeconds, 1),
            Math.Round(results.Select(r => r.Seconds).DefaultIfEmpty(0).Max(), 1), Math.Round(results.Sum(r => r.Seconds), 1));
        violations.AddRange(results.SelectMany(r => r.Failed));
        int verified = backups.Count - results.Sum(r => r.Failed.Count);
        foreach (var (_, vm) in vms)
        {
            var disk = await Retry(() => grains.GetGrain<IGuestDiskGrain>(vm).GetInfo());
            if (disk.Frozen || disk.Checkpointed || disk.BackupJob is not null)
                violations.Add($"{vm}: left frozen={disk.Frozen} checkpoint={disk.Checkpointed} job={disk.BackupJob}");
        }
        // Every persisted state, from the silos' audit (infra/chaos.sh turns it on).
        StateAuditCheck.Result? audit = null;
        if (auditDirectory is not null)
        {
            audit = StateAuditCheck.Run(auditDirectory);
            violations.AddRange(audit.Violations);
        }
        double P(double p) => Math.Round(Percentiles.Of(_outagesMs, p));
        var summary = new ChaosJson(_operations, _retries, acknowledged.Count, jobs.Count, verified, verifySeconds, slowestVmSeconds, sumVmSeconds,
            _outagesMs.Count, P(0.5), P(0.99), P(1), audit?.Writes, audit?.HostStates, audit?.Grains, audit?.Conflicts, violations);
        output.WriteLine(json ? JsonOutput.Serialize(summary) :
            $"chaos: {summary.Operations} operations ({summary.Retries} retried), {summary.BackupJobs} backup jobs ({verified} verified in {verifySeconds} s; slowest VM {slowestVmSeconds} s, all VMs' times added {sumVmSeconds} s), " +
            $"{summary.Outages} outages (p50 {summary.OutageP50Ms} ms, p99 {summary.OutageP99Ms} ms, max {summary.OutageMaxMs} ms), " +
            (audit is null ? "no state audit" : $"{audit.Writes} audited writes of {audit.Grains} grains ({audit.HostStates} host states checked, {audit.Conflicts} ETag conflicts refused)") + ": " +
            $"{violations.Count} violation(s)\n" + string.Concat(violations.Select(v => $"  VIOLATION {v}\n")));
        return violations.Count == 0;
    }

    /// <summary>
    /// Until acknowledged: each call is bounded, and a failed one is simply made again every 100 ms
    /// (the operations are idempotent). Anything but a rule's refusal is retried: the run is there to
    /// find what the cluster fails to answer, and the check afterwards judges what it did.
    /// </summary>
    private async Task<T> Retry<T>(Func<Task<T>> call, TimeSpan? bound = null)
    {
        Stopwatch? outage = null;
        var retry = new OperationRetry(TimeSpan.FromMinutes(10), (_, _, _) =>
            {
                outage ??= Stopwatch.StartNew();
                Interlocked.Increment(ref _retries);
            },
            isRetryable: e => e is not HvRuleException, firstDelay: TimeSpan.FromMilliseconds(100), maxDelay: TimeSpan.FromMilliseconds(100));
        var result = await retry.RunAsync(() => call().WaitAsync(bound ?? CallBound));
        Interlocked.Increment(ref _operations);
        if (outage is not null) lock (_outagesMs) _outagesMs.Add(outage.Elapsed.TotalMilliseconds);
        return result;
    }
}
