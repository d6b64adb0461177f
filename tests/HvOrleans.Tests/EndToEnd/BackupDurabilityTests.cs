using System.Text.Json;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using HvOrleans.Backup;
using HvOrleans.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HvOrleans.Tests.EndToEnd;

/// <summary>
/// One backup job of six VMs on two real silo processes; the silo running the job is killed with
/// SIGKILL during each step in turn (and mid-copy), then restarted, while the other keeps serving.
/// Every VM's backup must complete, hold exactly the data, verify, and leave nothing behind.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class BackupDurabilityTests(AzuriteFixture azurite, ITestOutputHelper log)
{
    private const long DiskBytes = 16L * 1024 * 1024;

    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Hv__Backup__DiskSizeMb"] = "16",
        ["Hv__Backup__StepDelay"] = "00:00:01",        // so that a kill lands inside a step
        ["Hv__Backup__BlocksPerProgress"] = "1",
        ["Hv__Backup__CopyParallelism"] = "1",
        ["Hv__Backup__ResumePeriod"] = "00:00:05",
        ["Hv__Backup__WritebackPeriod"] = "01:00:00",
    };

    private static readonly BackupStep[] KillDuring =
        [BackupStep.Freeze, BackupStep.Checkpoint, BackupStep.Thaw, BackupStep.Snapshot, BackupStep.Copy, BackupStep.Cleanup];

    [Fact]
    public async Task A_job_survives_a_SIGKILL_of_its_silo_during_every_step()
    {
        var cluster = new ClusterSettings(azurite.ConnectionString);
        var hv = new HvConsole(cluster);
        var ports = new[] { (Repo.FreePort(), Repo.FreePort()), (Repo.FreePort(), Repo.FreePort()) };
        var silos = new SiloProcess?[2];
        for (int i = 0; i < 2; i++) silos[i] = await SiloProcess.StartAsync(cluster, Settings, ports[i].Item1, ports[i].Item2);
        try
        {
            await hv.OkAsync("host", "add", "h1", "--memory-mb", "65536");
            var vms = Enumerable.Range(0, KillDuring.Length).Select(k => $"vm{k}").ToArray();
            var writes = vms.Select((_, k) => new DiskWrite(k * 1024L * 1024, 64 * 1024, Seed: k + 1)).ToArray();
            for (int k = 0; k < vms.Length; k++)
            {
                await hv.OkAsync("vm", "create", vms[k], "--host", "h1", "--startup-mb", "1024", "--min-mb", "512", "--max-mb", "2048");
                await hv.OkAsync("vm", "start", vms[k]);
                await hv.OkAsync("disk", "write", vms[k], "--offset", $"{writes[k].OffsetBytes}", "--length", $"{writes[k].LengthBytes}", "--seed", $"{writes[k].Seed}");
            }
            await using var client = await ClusterClient.ConnectAsync(cluster);   // before the start: the first step is only a second away
            await hv.OkAsync(["backup", "start", .. vms, "--job", "chaos-job"]);

            for (int k = 0; k < vms.Length; k++)
            {
                var step = KillDuring[k];
                var job = await PollAsync(client, j => Current(j.Vms[k]) == step && (step != BackupStep.Copy || j.Vms[k].BytesCopied > 0), $"{vms[k]} in {step}");
                string silo = job.Silo;
                int victim = Array.FindIndex(silos, s => s is not null && silo.Contains($":{s.SiloPort}:"));
                Assert.True(victim >= 0, $"job runs on {silo}, not on a silo of this test");
                silos[victim]!.Kill();
                log.WriteLine($"killed silo {victim} ({silo}) during {step} of {vms[k]}; copied {job.Vms[k].BytesCopied} bytes");
                await silos[victim]!.DisposeAsync();
                silos[victim] = await SiloProcess.StartAsync(cluster, Settings, ports[victim].Item1, ports[victim].Item2);
            }

            await PollAsync(client, j => BackupSteps.Finished(j.State), "the job to finish", seconds: 180);
            var done = await hv.JsonAsync("backup", "show", "chaos-job");
            Assert.Equal("Completed", done.GetProperty("state").GetString());
            var blobs = new BlobServiceClient(azurite.ConnectionString);
            for (int k = 0; k < vms.Length; k++)
            {
                var vm = done.GetProperty("vms")[k];
                Assert.Equal(("Done", "FileSystem"), (vm.GetProperty("step").GetString(), vm.GetProperty("consistency").GetString()));
                Assert.Equal(DiskImage.Sha256(DiskBytes, writes[k]), vm.GetProperty("sha256").GetString());
                string backupId = vm.GetProperty("backupId").GetString()!;
                Assert.Equal(0, (await hv.RunAsync("backup", "verify", backupId)).ExitCode);
                var disk = await hv.JsonAsync("disk", "show", vms[k]);
                Assert.Equal((false, false, JsonValueKind.Null), (disk.GetProperty("frozen").GetBoolean(), disk.GetProperty("checkpointed").GetBoolean(), disk.GetProperty("backupJob").ValueKind));
                Assert.Equal(0, await CountAsync(blobs.GetBlobContainerClient("hv-disks"), BlobStates.Snapshots, $"{vms[k]}.vhd", snapshotsOnly: true));
                var media = blobs.GetBlobContainerClient("hv-backups").GetBlobs(BlobTraits.None, BlobStates.Uncommitted, null, CancellationToken.None)
                    .Single(b => b.Name.EndsWith(backupId));
                var uncommitted = await blobs.GetBlobContainerClient("hv-backups").GetBlockBlobClient(media.Name).GetBlockListAsync(BlockListTypes.Uncommitted);
                Assert.Empty(uncommitted.Value.UncommittedBlocks);
            }
        }
        finally
        {
            foreach (var s in silos) if (s is not null) await s.DisposeAsync();
        }
    }

    private static BackupStep Current(BackupVmProgress v) => BackupSteps.InProgress(v.Step);

    /// <summary>Polls the job; while a silo is dying a call may fail, and is simply made again.</summary>
    private static Task<BackupJobInfo> PollAsync(ClusterClient client, Func<BackupJobInfo, bool> done, string what, int seconds = 90) =>
        Eventually.WaitForAsync(async () =>
        {
            try { return await client.Grains.GetGrain<IBackupJobGrain>("chaos-job").GetInfo(); }
            catch (Exception e) when (e is not HvRuleException) { return null; }
        }, j => j is not null && done(j), what, seconds)!;

    private static async Task<int> CountAsync(BlobContainerClient container, BlobStates states, string suffix, bool snapshotsOnly)
    {
        int count = 0;
        await foreach (var b in container.GetBlobsAsync(BlobTraits.None, states, null, CancellationToken.None))
            if (b.Name.EndsWith(suffix) && (!snapshotsOnly || b.Snapshot is not null)) count++;
        return count;
    }
}
