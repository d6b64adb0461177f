using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using HvOrleans.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HvOrleans.Tests.RealGuests;

/// <summary>
/// The agent is not its guests' lifeline: SIGKILL of the agent or of the silo leaves every QEMU
/// process running at its memory, and what was decided meanwhile is applied once they are back. A
/// QEMU process that dies is a crashed VM, and starting it boots it again.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class RealGuestFaultTests(AzuriteFixture azurite, ITestOutputHelper log)
{
    [Fact]
    public async Task Guests_run_on_through_agent_and_silo_SIGKILLs_and_a_dead_QEMU_is_a_crash()
    {
        var cluster = new ClusterSettings(azurite.ConnectionString);
        var hv = new HvConsole(cluster);
        var silo = await SiloProcess.StartAsync(cluster);
        await using var agent = await AgentProcess.StartAsync(cluster, "rf1", memoryMb: 4096);
        try
        {
            foreach (var vm in new[] { "a", "b" })
            {
                await hv.OkAsync("vm", "create", vm, "--host", "rf1", "--startup-mb", "512", "--min-mb", "256", "--max-mb", "1536");
                await hv.OkAsync("vm", "start", vm);
            }
            foreach (var vm in new[] { "a", "b" }) await GuestShell.RunningAsync(hv, vm);
            var pids = agent.QemuPids();
            Assert.Equal(["a", "b"], pids.Keys.Order());
            var uptime = await UptimesAsync(hv);

            // The agent dies in the middle of a load change.
            await hv.OkAsync("vm", "exec", "a", "--", "memload", "400");
            agent.Kill();
            await Task.Delay(TimeSpan.FromSeconds(3));
            Assert.Equal(pids, agent.QemuPids());
            await agent.RestartAsync();
            Assert.Contains("Re-attached VM a", agent.Output);
            var grown = await Eventually.WaitForAsync(() => hv.JsonAsync("vm", "show", "a"),
                v => v.GetProperty("hotAddedMb").GetInt32() > 0 && v.GetProperty("real").GetProperty("devicePluggedMb").GetInt32() == v.GetProperty("hotAddedMb").GetInt32(),
                "a's hot-add applied by the restarted agent", seconds: 90);
            log.WriteLine($"after the agent's restart: {grown}");
            Assert.Equal(pids, agent.QemuPids());
            var uptimeAfterAgent = await UptimesAsync(hv);
            Assert.All(pids.Keys, vm => Assert.True(uptimeAfterAgent[vm] > uptime[vm], $"{vm}'s uptime went from {uptime[vm]} to {uptimeAfterAgent[vm]} s"));

            // The silo dies after the load is dropped, before (or while) the balloon takes it back.
            int loadedMb = grown.GetProperty("assignedMb").GetInt32();
            await hv.OkAsync("vm", "exec", "a", "--", "memload", "0");
            silo.Kill();
            await silo.DisposeAsync();
            await Task.Delay(TimeSpan.FromSeconds(3));
            Assert.Equal(pids, agent.QemuPids());
            silo = await SiloProcess.StartAsync(cluster);
            var shrunk = await Eventually.WaitForAsync(() => hv.JsonAsync("vm", "show", "a"),
                v => v.GetProperty("assignedMb").GetInt32() < loadedMb - 128 && Held(v) == v.GetProperty("assignedMb").GetInt32(),
                "a ballooned after the silo's restart", seconds: 90);
            log.WriteLine($"after the silo's restart: {shrunk}");
            Assert.Equal(pids, agent.QemuPids());
            var uptimeAfterSilo = await UptimesAsync(hv);
            Assert.All(pids.Keys, vm => Assert.True(uptimeAfterSilo[vm] > uptimeAfterAgent[vm], $"{vm} rebooted"));

            // A QEMU process that dies unasked: the VM is Crashed, with the reason, and its memory is the host's again.
            Process.GetProcessById(pids["b"]).Kill();
            var crashed = await Eventually.WaitForAsync(() => hv.JsonAsync("vm", "show", "b"),
                v => v.GetProperty("state").GetString() == "Crashed", "b shown as crashed", seconds: 30);
            Assert.Contains($"QEMU process {pids["b"]} ended without a stop request", crashed.GetProperty("crashReason").GetString());
            Assert.Equal(0, crashed.GetProperty("assignedMb").GetInt32());
            await hv.OkAsync("vm", "start", "b");
            await GuestShell.RunningAsync(hv, "b");
            Assert.NotEqual(pids["b"], agent.QemuPids()["b"]);

            // A stop shuts the guest down and its QEMU process ends.
            await hv.OkAsync("vm", "stop", "b");
            await Eventually.WaitForAsync(() => Task.FromResult(agent.QemuPids().ContainsKey("b")), running => !running, "b's QEMU process ending", seconds: 30);
        }
        catch
        {
            log.WriteLine(agent.Output);
            throw;
        }
        finally
        {
            await silo.DisposeAsync();
        }
    }

    /// <summary>What the guest's devices hold, or null until the agent has reported to this silo (a restarted silo shows no device readings before the first sync).</summary>
    private static int? Held(JsonElement v)
    {
        var real = v.GetProperty("real");
        if (real.ValueKind != JsonValueKind.Object) return null;
        return v.GetProperty("startupMb").GetInt32() + real.GetProperty("devicePluggedMb").GetInt32() - real.GetProperty("deviceBalloonedMb").GetInt32();
    }

    /// <summary>Each guest's own uptime (/proc/uptime), in seconds.</summary>
    private static async Task<Dictionary<string, double>> UptimesAsync(HvConsole hv)
    {
        var uptimes = new Dictionary<string, double>();
        foreach (var vm in new[] { "a", "b" })
        {
            string stdout = await GuestShell.ExecAsync(hv, vm, "cat", "/proc/uptime");
            uptimes[vm] = double.Parse(stdout.Split(' ')[0], CultureInfo.InvariantCulture);
        }
        return uptimes;
    }
}
