using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Specialized;
using HvOrleans.Connection;

namespace HvOrleans.Tools;

/// <summary>
/// <c>hv guest backup-bench --host H [--backups 20] [--data-mb 200] [--disk-gb 4]</c>, on a host run
/// by hv-agent on this machine. A real VM with a 1 GB ext4 disk and a larger raw disk:
/// (1) while the guest writes continuously (fsync'ed writes in a loop), a series of backups (a full,
/// then incrementals), each one's freeze window as the agent measured it;
/// (2) the writer stopped, <c>--data-mb</c> written to each disk, one full backup timed from its
/// start to its commit, against a plain copy of the same allocated data of the same quiesced disks
/// in the same run: <c>qemu-img convert</c> to raw + a 4-way parallel SDK upload of the data extents.
/// </summary>
public sealed class GuestBackupBench(TextWriter output, TextWriter error)
{
    private const int StartupMb = 512, MinimumMb = 256, MaximumMb = 1024, ChunkBytes = DiskManifest.ChunkBytes;

    public static Func<IGrainFactory, ClusterConnectionOptions, Task<bool>> Command(CommandLine line, TextWriter output, TextWriter error)
    {
        string hostId = line.Text("host") ?? throw new UsageException("--host is required (a host run by hv-agent on this machine: infra/agent.sh start <host>).");
        int backups = line.IntIn("backups", 2, 1000, fallback: 20);
        int dataMb = line.IntIn("data-mb", 8, 4096, fallback: 200);
        int diskGb = line.IntIn("disk-gb", 1, 64, fallback: 4);
        string? runDir = line.Text("run-dir");
        bool json = line.Json;
        return async (grains, options) => { await new GuestBackupBench(output, error).RunAsync(grains, options, hostId, backups, dataMb, diskGb, runDir, json); return true; };
    }

    public async Task RunAsync(IGrainFactory grains, ClusterConnectionOptions options, string hostId, int backups, int dataMb, int diskGb, string? runDir, bool json)
    {
        string connection = options.ConnectionString is { Length: > 0 } cs ? cs
            : throw new HvRuleException("bench-needs-azure", "The backup benchmark needs the local cluster's Azurite (infra/cluster.sh up).");
        var host = grains.GetGrain<IHostGrain>(hostId);
        Rule.Require((await host.GetInfo()).Driver == HostDriver.Qemu, "host-driver", $"Host {hostId} runs modelled guests; this benchmark needs an agent's host (infra/agent.sh start {hostId}).");
        string vmId = $"bbench-{Guid.NewGuid():N}"[..14];
        string folder = Path.Combine(runDir ?? Path.Combine(HvHome.Directory, "agents", hostId), vmId);
        var vm = grains.GetGrain<IVmGrain>(vmId);
        await vm.Create(hostId, new VmConfig(StartupMb, MinimumMb, MaximumMb), new VmDisks([1, diskGb]));
        try
        {
            await vm.Start();
            while ((await vm.GetInfo()).Real?.State != GuestRunState.Running) await Task.Delay(100);

            // (1) Freeze windows under continuous writes.
            await GuestAsync(host, vmId, "nohup sh -c 'i=0; while :; do dd if=/dev/urandom of=/data/w$((i%8)) bs=64k count=4 conv=fsync 2>/dev/null; i=$((i+1)); done' >/dev/null 2>&1 &");
            var windows = new List<double>();
            int crash = 0;
            for (int n = 0; n < backups; n++)
            {
                var done = await BackupAsync(grains, vmId, $"{vmId}-w{n}", incremental: n > 0);
                var v = done.Vms[0];
                windows.Add(v.FreezeWindowMs ?? 0);
                if (v.Consistency != Consistency.FileSystem) crash++;
                error.WriteLine($"backup {n + 1}/{backups}: {v.Consistency}, frozen {v.FreezeWindowMs:0.0} ms, {v.BytesCopied / 1048576.0:0.0} MB copied");
            }
            await GuestAsync(host, vmId, "pkill -f 'while :' ; sync");

            // (2) Copy throughput: the same data in both disks, a full backup against a plain copy.
            for (int written = 0; written < dataMb; written += 40)
            {
                int mb = Math.Min(40, dataMb - written);
                await GuestAsync(host, vmId, $"dd if=/dev/urandom of=/data/big{written} bs=1M count={mb} 2>/dev/null && dd if=/data/big{written} of=/dev/vdb bs=1M seek={written} conv=fsync 2>/dev/null && sync");
            }
            var clock = Stopwatch.StartNew();
            var full = (await BackupAsync(grains, vmId, $"{vmId}-full", incremental: false)).Vms[0];
            double hvSeconds = clock.Elapsed.TotalSeconds;
            long hvBytes = full.BytesCopied;
            var (baseSeconds, baseBytes) = await BaselineAsync(new BlobServiceClient(connection), options.ServiceId, folder, full.Disks!.Count);
            var perDisk = full.Disks!.Select(d => new BackupBenchDiskJson(d.Index, d.SizeBytes / 1048576, Math.Round(d.DataBytes / 1048576.0, 1))).ToList();

            var sorted = windows.Order().ToArray();
            double At(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
            var result = new GuestBackupBenchJson(backups, Math.Round(At(0.5), 1), Math.Round(At(0.99), 1), Math.Round(sorted[^1], 1), crash,
                perDisk, Math.Round(hvSeconds, 2), Math.Round(hvBytes / 1048576.0 / hvSeconds, 1),
                Math.Round(baseSeconds, 2), Math.Round(baseBytes / 1048576.0 / baseSeconds, 1), Math.Round(baseSeconds / hvSeconds, 2));
            output.WriteLine(json ? JsonOutput.Serialize(result)
                : $"""
                  {backups} backups of a guest writing continuously (host {hostId}): freeze window p50 {result.FreezeP50Ms} ms, p99 {result.FreezeP99Ms} ms, max {result.FreezeMaxMs} ms; {crash} not file-system consistent
                  full backup of {string.Join(" + ", perDisk.Select(d => $"disk {d.Index}: {d.DataMb} MB of {d.SizeMb} MB"))}:
                    HvOrleans (start → committed)          {result.HvSeconds,6:0.00} s  {result.HvMiBps,6:0.0} MiB/s
                    qemu-img convert + 4-way SDK upload    {result.BaselineSeconds,6:0.00} s  {result.BaselineMiBps,6:0.0} MiB/s
                    ratio (baseline time / HvOrleans time)  {result.Ratio:0.00}
                  """);
        }
        finally
        {
            try
            {
                await vm.Stop();
                while ((await vm.GetInfo()).Real is not null) await Task.Delay(200);
            }
            catch (Exception e) { error.WriteLine($"stopping {vmId}: {e.Message}"); }
        }
    }

    private static async Task<BackupJobInfo> BackupAsync(IGrainFactory grains, string vmId, string jobId, bool incremental)
    {
        var job = grains.GetGrain<IBackupJobGrain>(jobId);
        var info = await job.Start([vmId], incremental);
        while (!BackupSteps.Finished(info.State))
        {
            await Task.Delay(50);
            info = await job.GetInfo();
        }
        Rule.Require(info.State == JobState.Completed, "bench-backup", $"Backup job {jobId} ended {info.State}: {info.Vms[0].Error}");
        return info;
    }

    /// <summary>A plain copy of the same allocated data: each disk converted to raw, its data extents uploaded 4 MiB at a time, 4 at once, and committed.</summary>
    private static async Task<(double Seconds, long Bytes)> BaselineAsync(BlobServiceClient blobs, string serviceId, string folder, int disks)
    {
        var container = blobs.GetBlobContainerClient("hv-bench");
        await container.CreateIfNotExistsAsync();
        var clock = Stopwatch.StartNew();
        long bytes = 0;
        for (int disk = 0; disk < disks; disk++)
        {
            string raw = Path.Combine(Path.GetTempPath(), $"hv-bench-{Guid.NewGuid():N}.raw");
            try
            {
                await RunAsync("qemu-img", ["convert", "-U", "-O", "raw", Path.Combine(folder, $"disk{disk}.qcow2"), raw]);
                var extents = JsonNode.Parse(await RunAsync("qemu-img", ["map", "--output=json", "-f", "raw", raw]))!.AsArray()
                    .Where(e => e!["data"]!.GetValue<bool>()).Select(e => (Start: e!["start"]!.GetValue<long>(), Length: e["length"]!.GetValue<long>())).ToList();
                var chunks = extents.SelectMany(e => Enumerable.Range(0, (int)((e.Length + ChunkBytes - 1) / ChunkBytes))
                    .Select(i => (Offset: e.Start + (long)i * ChunkBytes, Length: (int)Math.Min(ChunkBytes, e.Length - (long)i * ChunkBytes)))).ToList();
                var target = container.GetBlockBlobClient($"{serviceId}/{Guid.NewGuid():N}");
                using var file = File.OpenHandle(raw);
                await Parallel.ForEachAsync(Enumerable.Range(0, chunks.Count), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, ct) =>
                {
                    var buffer = new byte[chunks[i].Length];
                    RandomAccess.Read(file, buffer, chunks[i].Offset);
                    using var stream = new MemoryStream(buffer, writable: false);
                    await target.StageBlockAsync(BackupSteps.BlockId(i), stream, cancellationToken: ct);
                });
                await target.CommitBlockListAsync(Enumerable.Range(0, chunks.Count).Select(BackupSteps.BlockId));
                bytes += chunks.Sum(c => (long)c.Length);
            }
            finally
            {
                File.Delete(raw);
            }
        }
        return (clock.Elapsed.TotalSeconds, bytes);
    }

    private static async Task GuestAsync(IHostGrain host, string vmId, string script)
    {
        var result = await host.ExecInGuest(vmId, ["sh", "-c", script], TimeSpan.FromSeconds(25));
        if (result.ExitCode != 0) throw new HvRuleException("bench-guest", $"The guest's script failed ({result.ExitCode}): {result.StdErr}");
    }

    private static async Task<string> RunAsync(string file, IReadOnlyList<string> args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        string stdout = await process.StandardOutput.ReadToEndAsync();
        string stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new IOException($"{file} failed ({process.ExitCode}): {stderr}");
        return stdout;
    }
}
