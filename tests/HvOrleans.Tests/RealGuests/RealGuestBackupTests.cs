using System.Text.Json;
using HvOrleans.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HvOrleans.Tests.RealGuests;

/// <summary>
/// Live backups of a real guest with two data disks (ext4 on /data, and a raw disk the test writes
/// with dd), through hv, a real silo on Azurite and a real agent: what the guest wrote before the
/// freeze is in the backup, what it wrote once thawed is not; incrementals copy what the dirty bitmap
/// marked and nothing else; restores boot, pass e2fsck, and hold byte for byte what the guest's disk held.
/// </summary>
[Collection(GuestCollection.Name)]
public sealed class RealGuestBackupTests(AzuriteFixture azurite, ITestOutputHelper log)
{
    [Fact]
    public async Task A_live_backup_holds_the_writes_before_its_freeze_incrementals_copy_the_bitmap_and_a_chain_restores_byte_identical()
    {
        var cluster = new ClusterSettings(azurite.ConnectionString);
        var hv = new HvConsole(cluster);
        await using var silo = await SiloProcess.StartAsync(cluster);
        await using var agent = await AgentProcess.StartAsync(cluster, "rb1", memoryMb: 3072);
        try
        {
            await hv.OkAsync("vm", "create", "src", "--host", "rb1", "--startup-mb", "512", "--min-mb", "256", "--max-mb", "1024", "--disk-gb", "1", "--disk-gb", "1");
            await hv.OkAsync("vm", "start", "src");
            await GuestShell.RunningAsync(hv, "src");

            // Data the guest has synced, and a file it has not: still dirty in its page cache when the backup starts.
            await Guest(hv, "src", "dd if=/dev/urandom of=/data/big bs=1M count=24 && sync && dd if=/dev/urandom of=/dev/vdb bs=64k count=32 seek=7 conv=fsync");
            await Guest(hv, "src", "dd if=/dev/urandom of=/data/before bs=64k count=16");
            string dirty = await Guest(hv, "src", "grep Dirty: /proc/meminfo");
            log.WriteLine($"before the full backup: {dirty.Trim()}");
            string beforeSha = await Sha256InGuestAsync(hv, "src", "/data/before");

            // The full backup; once its guest is thawed (past the Thaw step), the guest writes again.
            await hv.OkAsync("backup", "start", "src", "--job", "full");
            var thawed = await Eventually.WaitForAsync(() => hv.JsonAsync("backup", "show", "full"),
                j => Vm(j).GetProperty("step").GetString() is "Snapshot" or "Copy" or "Cleanup" or "Done" || j.GetProperty("state").GetString() != "Running",
                "the full backup past its thaw", seconds: 60);
            await Guest(hv, "src", "echo written-after-the-thaw > /data/after && sync");
            log.WriteLine($"/data/after written while the job was at {Vm(thawed).GetProperty("step").GetString()}");
            var full = Vm(await DoneAsync(hv, "full"));
            Assert.Equal("FileSystem", full.GetProperty("consistency").GetString());
            double windowMs = full.GetProperty("freezeWindowMs").GetDouble();
            Assert.InRange(windowMs, 0.001, 10_000);
            var fullDisks = Disks(full);
            Assert.All(fullDisks, d => Assert.False(d.GetProperty("incremental").GetBoolean()));
            // Allocated clusters only: a 1 GB disk holding ~25 MB copies about that, not the gigabyte.
            long fullBytes = full.GetProperty("bytesCopied").GetInt64();
            Assert.InRange(fullBytes, 25L << 20, 96L << 20);
            Assert.Equal(fullBytes, fullDisks.Sum(d => d.GetProperty("dataBytes").GetInt64()));

            // Incremental 1: one file changed on /data, 128 KiB on the raw disk.
            await Guest(hv, "src", "dd if=/dev/urandom of=/data/changed bs=64k count=4 && sync && dd if=/dev/urandom of=/dev/vdb bs=64k count=2 seek=100 conv=fsync");
            await hv.OkAsync("backup", "start", "src", "--job", "inc1", "--incremental");
            var inc1 = Vm(await DoneAsync(hv, "inc1"));
            Assert.Equal("src@full", inc1.GetProperty("parentBackupId").GetString());
            var inc1Disks = Disks(inc1);
            Assert.All(inc1Disks, d => Assert.True(d.GetProperty("incremental").GetBoolean()));
            foreach (var d in inc1Disks)
                // What the copy holds is what the bitmap marked, cluster for cluster: data copied, and extents zeroed since (recorded, not copied).
                Assert.Equal(d.GetProperty("trackedBytes").GetInt64(), d.GetProperty("dataBytes").GetInt64() + d.GetProperty("zeroBytes").GetInt64());
            Assert.Equal(128L << 10, inc1Disks[1].GetProperty("dataBytes").GetInt64());
            Assert.InRange(inc1Disks[0].GetProperty("dataBytes").GetInt64(), 256L << 10, 4L << 20);
            Assert.Equal(inc1.GetProperty("bytesCopied").GetInt64(), inc1Disks.Sum(d => d.GetProperty("dataBytes").GetInt64()));

            // Incremental 2: more raw writes, one overlapping the last.
            await Guest(hv, "src", "dd if=/dev/urandom of=/dev/vdb bs=64k count=3 seek=101 conv=fsync && echo two >> /data/changed && sync");
            await hv.OkAsync("backup", "start", "src", "--job", "inc2", "--incremental");
            var inc2 = Vm(await DoneAsync(hv, "inc2"));
            Assert.Equal(192L << 10, Disks(inc2)[1].GetProperty("dataBytes").GetInt64());
            var changedSha = await Sha256InGuestAsync(hv, "src", "/data/changed");
            var bigSha = await Sha256InGuestAsync(hv, "src", "/data/big");
            // Nothing writes the raw disk after the last backup: read on the host, it is what the chain must give back.
            string rawDiskSha = await GuestShell.HostImageSha256Async(Path.Combine(agent.RunDirectory, "src", "disk1.qcow2"));

            var verify = await hv.JsonAsync("backup", "verify", "src@inc2");
            Assert.True(verify.GetProperty("ok").GetBoolean(), verify.ToString());
            var list = await hv.JsonAsync("backup", "list", "--vm", "src");
            Assert.Equal(["full", "incremental", "incremental"], list.EnumerateArray().Select(b => b.GetProperty("kind").GetString()));

            // The full backup restored: booted, checked, holding the unsynced file and not the one written after the thaw.
            var r0 = await hv.JsonAsync("backup", "restore", "src@full", "--to", "r0");
            log.WriteLine($"restore of the full backup: {r0}");
            Assert.StartsWith("clean", r0.GetProperty("disks")[0].GetProperty("fileSystemCheck").GetString());
            await hv.OkAsync("vm", "start", "r0");
            await GuestShell.RunningAsync(hv, "r0");
            Assert.Equal(beforeSha, await Sha256InGuestAsync(hv, "r0", "/data/before"));
            Assert.Equal(bigSha, await Sha256InGuestAsync(hv, "r0", "/data/big"));
            Assert.Contains("absent", await Guest(hv, "r0", "test -e /data/after && echo present || echo absent"));
            await hv.OkAsync("vm", "stop", "r0");

            // The chain full + 2 incrementals restored: the raw disk byte for byte, the files as the guest has them.
            var r2 = await hv.JsonAsync("backup", "restore", "src@inc2", "--to", "r2");
            log.WriteLine($"restore of the chain: {r2}");
            Assert.Equal(rawDiskSha, r2.GetProperty("disks")[1].GetProperty("imageSha256").GetString());
            Assert.StartsWith("clean", r2.GetProperty("disks")[0].GetProperty("fileSystemCheck").GetString());
            await hv.OkAsync("vm", "start", "r2");
            await GuestShell.RunningAsync(hv, "r2");
            Assert.Equal(changedSha, await Sha256InGuestAsync(hv, "r2", "/data/changed"));
            Assert.Equal(beforeSha, await Sha256InGuestAsync(hv, "r2", "/data/before"));
            Assert.Contains("written-after-the-thaw", await Guest(hv, "r2", "cat /data/after"));

            // SureBackup: restored into a scratch VM, checked, booted, /data read in the guest, and the scratch VM gone.
            var booted = await hv.JsonAsync("backup", "verify", "src@inc2", "--boot");
            log.WriteLine($"verify --boot: {booted}");
            Assert.True(booted.GetProperty("ok").GetBoolean(), booted.ToString());
            Assert.StartsWith("/data mounted", booted.GetProperty("guestCheck").GetString());
            string scratch = booted.GetProperty("scratchVm").GetString()!;
            Assert.False(Directory.Exists(Path.Combine(agent.RunDirectory, scratch)), $"{scratch}'s run folder is still there");
            var (code, _, stderr) = await hv.RunAsync("vm", "show", scratch);
            Assert.True(code != 0 && stderr.Contains("vm-must-exist"), $"the scratch VM {scratch} still exists: exit {code}, {stderr}");

            // Nothing of the jobs is left on the host: no temporary copy, no stray change tracking, no uncommitted block.
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(agent.RunDirectory, "src", "backup")));
        }
        catch
        {
            log.WriteLine(agent.Output);
            log.WriteLine(silo.Output);
            throw;
        }
    }

    private static JsonElement Vm(JsonElement job) => job.GetProperty("vms")[0];

    private static List<JsonElement> Disks(JsonElement vm) => [.. vm.GetProperty("disks").EnumerateArray()];

    private static async Task<JsonElement> DoneAsync(HvConsole hv, string job)
    {
        var done = await hv.JsonAsync("backup", "show", job, "--wait", "120");
        Assert.True(done.GetProperty("state").GetString() == "Completed", $"backup job {job}: {done}");
        return done;
    }

    private static Task<string> Guest(HvConsole hv, string vm, string script) => GuestShell.ExecAsync(hv, vm, "sh", "-c", script);

    private static async Task<string> Sha256InGuestAsync(HvConsole hv, string vm, string path) =>
        (await Guest(hv, vm, $"sha256sum {path}")).Split(' ')[0];
}
