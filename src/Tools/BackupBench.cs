using System.Diagnostics;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;

namespace HvOrleans.Tools;

/// <summary>
/// <c>hv backup bench [--vms N] [--rounds R]</c>: N VMs with full disks backed up at once by HvOrleans
/// (one job each), next to a plain Azure SDK copy of the same disks — snapshot, read 4 MiB ranges,
/// stage blocks, commit, the way a tool like AzCopy copies — with the same parallelism, in the same run.
/// </summary>
public sealed class BackupBench(TextWriter output, TextWriter error)
{
    public static Func<IGrainFactory, ClusterConnectionOptions, Task<bool>> Command(CommandLine line, TextWriter output, TextWriter error)
    {
        int vms = line.OptionalInt("vms") ?? 20, rounds = line.OptionalInt("rounds") ?? 2;
        if (vms is < 1 or > 200 || rounds is < 1 or > 100) throw new UsageException($"--vms is 1..200 and --rounds 1..100; got {vms} and {rounds}.");
        bool json = line.Json;
        return async (grains, options) => { await new BackupBench(output, error).RunAsync(grains, options, vms, rounds, json); return true; };
    }

    public async Task RunAsync(IGrainFactory grains, ClusterConnectionOptions options, int vms, int rounds, bool json)
    {
        string connection = options.ConnectionString is { Length: > 0 } cs ? cs
            : throw new HvRuleException("bench-needs-azure", "The backup benchmark needs the local cluster's Azurite (infra/cluster.sh up).");
        string serviceId = options.ServiceId;
        var blobs = new BlobServiceClient(connection);
        string run = Guid.NewGuid().ToString("N")[..6], hostId = $"bench-{run}";
        await grains.GetGrain<IHostGrain>(hostId).Add(vms * 2048 + 4096, 1024);
        var ids = Enumerable.Range(0, vms).Select(i => $"bench-{run}-{i}").ToArray();
        long diskBytes = 0;
        foreach (var id in ids)
        {
            await grains.GetGrain<IVmGrain>(id).Create(hostId, new VmConfig(1024, 512, 2048));
            diskBytes = (await grains.GetGrain<IGuestDiskGrain>(id).GetInfo()).SizeBytes;
        }
        var disks = blobs.GetBlobContainerClient("hv-disks");
        error.WriteLine($"filling {vms} disks of {diskBytes / 1048576} MB…");
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, _) =>
        {
            var disk = disks.GetPageBlobClient($"{serviceId}/{id}.vhd");
            for (long start = 0; start < diskBytes; start += BackupSteps.BlockBytes)
            {
                var bytes = new byte[Math.Min(BackupSteps.BlockBytes, diskBytes - start)];
                DiskPattern.Fill(bytes, start, seed: id.GetHashCode());
                using var stream = new MemoryStream(bytes);
                await disk.UploadPagesAsync(stream, start);
            }
        });
        var results = new List<BackupBenchJson>();
        for (int round = 1; round <= rounds; round++)
        {
            var baseline = await BaselineAsync(blobs, serviceId, ids, diskBytes, $"{run}-{round}");
            var (seconds, windows) = await HvOrleansAsync(grains, ids, $"{run}-{round}");
            double totalMiB = (double)diskBytes * vms / 1048576;
            var r = new BackupBenchJson(round, vms, diskBytes / 1048576, Math.Round(totalMiB / baseline, 1), Math.Round(totalMiB / seconds, 1),
                Math.Round(baseline / seconds, 3), Math.Round(Percentiles.Of(windows, 0.50), 1), Math.Round(Percentiles.Of(windows, 0.99), 1), Math.Round(windows.Max(), 1));
            results.Add(r);
            if (!json)
                output.WriteLine($"round {round}: {vms} × {r.DiskMb} MB — SDK copy {r.BaselineMiBps} MiB/s, HvOrleans {r.HvMiBps} MiB/s ({r.Ratio:P0}); " +
                                 $"freeze window p50 {r.FreezeP50Ms} ms, p99 {r.FreezeP99Ms} ms, max {r.FreezeMaxMs} ms");
        }
        if (json) output.WriteLine(JsonOutput.Serialize(results));
    }

    private async Task<double> BaselineAsync(BlobServiceClient blobs, string serviceId, string[] ids, long diskBytes, string tag)
    {
        var disks = blobs.GetBlobContainerClient("hv-disks");
        var media = blobs.GetBlobContainerClient("hv-backups");
        await media.CreateIfNotExistsAsync();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(ids.Select(async id =>
        {
            var disk = disks.GetPageBlobClient($"{serviceId}/{id}.vhd");
            var snapshot = disk.WithSnapshot((await disk.CreateSnapshotAsync()).Value.Snapshot);
            var target = media.GetBlockBlobClient($"baseline/{tag}/{id}");
            var blocks = Enumerable.Range(0, BackupSteps.BlockCount(diskBytes)).ToList();
            await Parallel.ForEachAsync(blocks, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (block, ct) =>
            {
                long start = (long)block * BackupSteps.BlockBytes;
                var response = await snapshot.DownloadContentAsync(new BlobDownloadOptions { Range = new HttpRange(start, Math.Min(BackupSteps.BlockBytes, diskBytes - start)) }, ct);
                using var stream = response.Value.Content.ToStream();
                await target.StageBlockAsync(BackupSteps.BlockId(block), stream, cancellationToken: ct);
            });
            await target.CommitBlockListAsync(blocks.Select(BackupSteps.BlockId));
            await snapshot.DeleteAsync();
            await target.DeleteAsync();
        }));
        return clock.Elapsed.TotalSeconds;
    }

    private static async Task<(double Seconds, List<double> FreezeWindowsMs)> HvOrleansAsync(IGrainFactory grains, string[] ids, string tag)
    {
        var clock = Stopwatch.StartNew();
        var jobs = await Task.WhenAll(ids.Select(id => grains.GetGrain<IBackupJobGrain>($"bench-{tag}-{id}"[..Math.Min(64, $"bench-{tag}-{id}".Length)]).Start([id], false)));
        var finished = new List<BackupJobInfo>();
        foreach (var job in jobs)
        {
            var info = job;
            while (!BackupSteps.Finished(info.State))
            {
                await Task.Delay(100);
                info = await grains.GetGrain<IBackupJobGrain>(job.JobId).GetInfo();
            }
            Rule.Require(info.State == JobState.Completed, "bench-job-failed", $"Backup job {info.JobId} {info.State}: {info.Vms[0].Error}");
            finished.Add(info);
        }
        return (clock.Elapsed.TotalSeconds, finished.Select(j => j.Vms[0].FreezeWindowMs ?? 0).ToList());
    }
}
