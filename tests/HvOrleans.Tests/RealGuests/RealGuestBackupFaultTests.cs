using System.Text.Json;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using HvOrleans.Agent.Backup;
using HvOrleans.Backup;
using HvOrleans.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HvOrleans.Tests.RealGuests;

/// <summary>
/// A real guest's live backups with their agent and their silo SIGKILLed in every step in turn: the
/// agent with the guest frozen, the silo while it waits to run a step. Every job completes and
/// verifies, the guest is never left frozen, and nothing of the jobs is left behind: no temporary
/// file on the host, no uncommitted block on backup media. The chain of all of them restores byte-identical.
/// </summary>
[Collection(GuestCollection.Name)]
public sealed class RealGuestBackupFaultTests(AzuriteFixture azurite, ITestOutputHelper log)
{
    private static readonly Dictionary<string, string> SlowSteps = new()
    {
        // A pause before every step, and one with the guest frozen: room to kill a process in each.
        ["Hv__Backup__StepDelay"] = "00:00:01.5",
        ["Hv__Backup__ResumePeriod"] = "00:00:05",
    };

    [Fact]
    public async Task Jobs_complete_verify_and_restore_with_the_agent_or_the_silo_killed_in_every_step()
    {
        var cluster = new ClusterSettings(azurite.ConnectionString);
        var hv = new HvConsole(cluster);
        var silo = await SiloProcess.StartAsync(cluster, SlowSteps);
        await using var agent = await AgentProcess.StartAsync(cluster, "rk1", memoryMb: 2048,
            new Dictionary<string, string> { ["Hv__Agent__HoldWhileFrozen"] = "00:00:02" });
        try
        {
            await hv.OkAsync("vm", "create", "k", "--host", "rk1", "--startup-mb", "512", "--min-mb", "256", "--max-mb", "1024", "--disk-gb", "1", "--disk-gb", "1");
            await hv.OkAsync("vm", "start", "k");
            await GuestShell.RunningAsync(hv, "k");

            var kills = new[] { "Freeze", "Snapshot", "Copy", "Cleanup" }.SelectMany(step => new[] { ("agent", step), ("silo", step) }).ToList();
            var jobs = new List<string>();
            for (int n = 0; n < kills.Count; n++)
            {
                var (victim, step) = kills[n];
                string job = $"k{n}";
                await Guest(hv, $"dd if=/dev/urandom of=/data/f{n} bs=64k count=8 && dd if=/dev/urandom of=/dev/vdb bs=64k count=2 seek={10 * n} conv=fsync && sync");
                await using (var client = await ClusterClient.ConnectAsync(cluster))   // before the start: a step lasts about its 1.5 s pause
                {
                    await hv.OkAsync(["backup", "start", "k", "--job", job, .. n == 0 ? Array.Empty<string>() : ["--incremental"]]);
                    if (victim == "agent" && step == "Freeze")
                    {
                        // With the guest frozen: the agent says so when it starts holding it.
                        int said = agent.Count("holding it frozen");
                        await Eventually.WaitForAsync(() => Task.FromResult(agent.Count("holding it frozen")), c => c > said, $"job {job}'s freeze", seconds: 60);
                    }
                    else
                    {
                        await AtStepAsync(client, job, step);
                        await Task.Delay(TimeSpan.FromSeconds(1.6));   // past the pause before the step: in it
                    }
                }
                if (victim == "agent")
                {
                    agent.Kill();
                    await Task.Delay(TimeSpan.FromSeconds(1));
                    await agent.RestartAsync();
                }
                else
                {
                    silo.Kill();
                    await silo.DisposeAsync();
                    silo = await SiloProcess.StartAsync(cluster, SlowSteps);
                }
                var done = await hv.JsonAsync("backup", "show", job, "--wait", "80");
                log.WriteLine($"{victim} killed in {step}: {done.GetProperty("state").GetString()}, {done.GetProperty("vms")[0].GetProperty("consistency").GetString()}" +
                              $" ({done.GetProperty("vms")[0].GetProperty("note")})");
                Assert.True(done.GetProperty("state").GetString() == "Completed", $"{victim} killed in {step}: {done}");
                var verify = await hv.JsonAsync("backup", "verify", $"k@{job}");
                Assert.True(verify.GetProperty("ok").GetBoolean(), verify.ToString());
                // Never left frozen: a write to /data goes through at once.
                var (code, _, stderr) = await hv.RunAsync("vm", "exec", "k", "--timeout-s", "5", "--", "sh", "-c", $"echo thawed > /data/t{n} && sync");
                Assert.True(code == 0, $"a write to /data after job {job}: exit {code}, {stderr}");
                jobs.Add(job);
            }
            Assert.True(agent.Count("left frozen by an earlier agent: thawed") >= 1, "the restarted agent never found its guest frozen");

            // A backup cancelled after its capture, while its agent is away (so nothing is cleaned on the guest
            // then): what it had captured is still in the next incremental, and what it left is swept.
            await Guest(hv, "dd if=/dev/urandom of=/dev/vdb bs=64k count=2 seek=500 conv=fsync");
            await using (var client = await ClusterClient.ConnectAsync(cluster))
            {
                await hv.OkAsync("backup", "start", "k", "--job", "kc", "--incremental");
                await AtStepAsync(client, "kc", "Snapshot");   // past its capture
            }
            agent.Kill();
            await hv.OkAsync("backup", "cancel", "kc");
            var cancelled = await hv.JsonAsync("backup", "show", "kc", "--wait", "60");
            Assert.True(cancelled.GetProperty("state").GetString() == "Cancelled", cancelled.ToString());
            await agent.RestartAsync();
            // Written after the cancelled job's capture had disabled the parent's tracking: only the sweep's merge keeps it tracked.
            await Guest(hv, "dd if=/dev/urandom of=/dev/vdb bs=64k count=2 seek=600 conv=fsync");
            await hv.OkAsync("backup", "start", "k", "--job", "kafter", "--incremental");
            var after = await hv.JsonAsync("backup", "show", "kafter", "--wait", "80");
            Assert.True(after.GetProperty("state").GetString() == "Completed", after.ToString());
            Assert.Equal($"k@{jobs[^1]}", after.GetProperty("vms")[0].GetProperty("parentBackupId").GetString());
            // Whether both changes are in the chain is what the byte-identical restore below checks.
            log.WriteLine($"the incremental after the cancelled one copied {after.GetProperty("vms")[0].GetProperty("disks")[1].GetProperty("dataBytes").GetInt64()} bytes of disk 1");
            Assert.True(agent.Count("change tracking left by a job that ended without its agent") >= 1, "the next capture did not sweep what the cancelled job left");
            jobs.Add("kafter");

            // Nothing left: no temporary file on the host, no uncommitted block on backup media.
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(agent.RunDirectory, "k", "backup")));
            var container = new BlobContainerClient(azurite.ConnectionString, "hv-backups");
            foreach (var job in jobs)
                foreach (int disk in new[] { 0, 1 })
                {
                    var blocks = (await container.GetBlockBlobClient($"{cluster.Id}/k@{job}.disk{disk}").GetBlockListAsync(BlockListTypes.Uncommitted)).Value;
                    Assert.Empty(blocks.UncommittedBlocks);
                }
            // The cancelled job's blobs are gone, committed or not.
            var left = new List<string>();
            await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.Uncommitted, $"{cluster.Id}/k@kc.", CancellationToken.None)) left.Add(blob.Name);
            Assert.Empty(left);

            // The whole chain restores byte-identical (the raw disk, which nothing wrote since the last backup).
            string rawSha = await GuestShell.HostImageSha256Async(Path.Combine(agent.RunDirectory, "k", "disk1.qcow2"));
            var restored = await hv.JsonAsync("backup", "restore", $"k@{jobs[^1]}", "--to", "k2");
            Assert.Equal(rawSha, restored.GetProperty("disks")[1].GetProperty("imageSha256").GetString());
            Assert.StartsWith("clean", restored.GetProperty("disks")[0].GetProperty("fileSystemCheck").GetString());
        }
        catch
        {
            log.WriteLine(agent.Output);
            log.WriteLine(silo.Output);
            throw;
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }

    /// <summary>
    /// Polls a job through a client in this process: each of hv's reads starts a process and connects (a second
    /// or more on a loaded machine), and a step here lasts about its 1.5 s pause, so hv could read past it.
    /// </summary>
    private static Task AtStepAsync(ClusterClient client, string job, string step) =>
        Eventually.WaitForAsync(async () =>
        {
            try { return await client.Grains.GetGrain<IBackupJobGrain>(job).GetInfo(); }
            catch (Exception e) when (e is not HvRuleException) { return null; }   // the job's silo briefly away: read again
        }, j => j is not null && BackupSteps.InProgress(j.Vms[0].Step).ToString() == step, $"job {job} at {step}", seconds: 60);

    [Fact]
    public async Task An_agent_killed_after_releasing_the_copy_and_before_writing_it_down_finishes_the_step_when_it_restarts()
    {
        // The moment between QEMU's copy job and node going and the step's answer being written: the restarted agent
        // repeats the step, finds them gone, and must take that as done (it once refused: "Failed to find node").
        var cluster = new ClusterSettings(azurite.ConnectionString);
        var hv = new HvConsole(cluster);
        await using var silo = await SiloProcess.StartAsync(cluster);
        await using var agent = await AgentProcess.StartAsync(cluster, "rc1", memoryMb: 1024,
            new Dictionary<string, string> { ["Hv__Agent__CrashOnceAt"] = CrashPoint.CopyReleased });
        try
        {
            await hv.OkAsync("vm", "create", "c", "--host", "rc1", "--startup-mb", "512", "--min-mb", "256", "--max-mb", "768");
            await hv.OkAsync("vm", "start", "c");
            await GuestShell.RunningAsync(hv, "c");
            await GuestShell.ExecAsync(hv, "c", "sh", "-c", "dd if=/dev/urandom of=/data/c bs=64k count=8 && sync");
            await hv.OkAsync("backup", "start", "c", "--job", "c0");
            await Eventually.WaitForAsync(() => Task.FromResult(agent.HasExited), exited => exited, "the agent killing itself at copy-released", seconds: 90);
            Assert.True(File.Exists(CrashPoint.MarkerOf(agent.RunDirectory, CrashPoint.CopyReleased)), "the agent ended, but not at copy-released");
            await agent.RestartAsync();

            var done = await hv.JsonAsync("backup", "show", "c0", "--wait", "80");
            Assert.True(done.GetProperty("state").GetString() == "Completed", done.ToString());
            var verify = await hv.JsonAsync("backup", "verify", "c@c0");
            Assert.True(verify.GetProperty("ok").GetBoolean(), verify.ToString());
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(agent.RunDirectory, "c", "backup")));
        }
        catch
        {
            log.WriteLine(agent.Output);
            log.WriteLine(silo.Output);
            throw;
        }
    }

    [Fact]
    public async Task A_guest_is_never_frozen_past_the_freeze_limit_and_a_job_that_cannot_capture_gives_up()
    {
        var cluster = new ClusterSettings(azurite.ConnectionString);
        var hv = new HvConsole(cluster);
        await using var silo = await SiloProcess.StartAsync(cluster, new Dictionary<string, string> { ["Hv__Backup__MaxStepAttempts"] = "2" });
        // Held frozen for 30 s by the agent's failure-test setting: only the 2 s limit can thaw it in time.
        await using var agent = await AgentProcess.StartAsync(cluster, "rw1", memoryMb: 1024,
            new Dictionary<string, string> { ["Hv__Agent__HoldWhileFrozen"] = "00:00:30", ["Hv__Agent__FreezeLimit"] = "00:00:02" });
        try
        {
            await hv.OkAsync("vm", "create", "w", "--host", "rw1", "--startup-mb", "512", "--min-mb", "256", "--max-mb", "768");
            await hv.OkAsync("vm", "start", "w");
            await GuestShell.RunningAsync(hv, "w");
            await hv.OkAsync("backup", "start", "w", "--job", "wd");
            await Eventually.WaitForAsync(() => Task.FromResult(agent.Count("holding it frozen")), c => c > 0, "the guest frozen", seconds: 60);
            // A write issued while frozen goes through once thawed: within the exec's 10 s, not the 30 s hold.
            var (code, _, stderr) = await hv.RunAsync("vm", "exec", "w", "--timeout-s", "10", "--", "sh", "-c", "echo x > /data/x && sync");
            Assert.True(code == 0, $"a write while the guest was held frozen: exit {code}, {stderr}");

            var failed = await hv.JsonAsync("backup", "show", "wd", "--wait", "80");
            var vm = failed.GetProperty("vms")[0];
            Assert.True(failed.GetProperty("state").GetString() == "Failed", failed.ToString());
            Assert.Contains("limit", vm.GetProperty("error").GetString());
            Assert.True(agent.Count("frozen for its 2 s limit") >= 2, "the limit did not end both attempts");
            (code, _, stderr) = await hv.RunAsync("vm", "exec", "w", "--timeout-s", "10", "--", "sh", "-c", "echo y > /data/y && sync");
            Assert.True(code == 0, $"a write after the job gave up: exit {code}, {stderr}");
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(agent.RunDirectory, "w", "backup")));
        }
        catch
        {
            log.WriteLine(agent.Output);
            log.WriteLine(silo.Output);
            throw;
        }
    }

    private Task<string> Guest(HvConsole hv, string script) => GuestShell.ExecAsync(hv, "k", "sh", "-c", script);
}
