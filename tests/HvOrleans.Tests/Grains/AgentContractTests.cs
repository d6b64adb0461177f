using HvOrleans.Backup;
using HvOrleans.Tests.Infrastructure;

namespace HvOrleans.Tests.Grains;

/// <summary>The host grain's side of hv-agent: registration, the once-a-second sync, crashes, boot ids, exec.</summary>
public sealed class AgentContractTests(MemoryClusterFixture fixture) : IClassFixture<MemoryClusterFixture>
{
    private sealed class FakeAgent : IHostAgent
    {
        public List<(string VmId, string[] Argv)> Calls { get; } = [];
        public Task<GuestExecResult> Exec(string vmId, IReadOnlyList<string> argv, TimeSpan timeout)
        {
            Calls.Add((vmId, argv.ToArray()));
            return Task.FromResult(new GuestExecResult(3, "out\n", "err\n"));
        }

        // Backups on real guests are exercised against a real agent (RealGuestBackupTests), not this fake.
        private static NotSupportedException BackupStep() => new("the contract tests' agent runs commands only");
        public Task<GuestCapture> Capture(string vmId, GuestCaptureRequest request) => throw BackupStep();
        public Task<PointInTime> PointInTime(string vmId, string jobId) => throw BackupStep();
        public Task<long> Upload(string vmId, ChunkUpload upload) => throw BackupStep();
        public Task<DiskBackup> Commit(string vmId, DiskCommit commit) => throw BackupStep();
        public Task Release(string vmId, string jobId, string? parentBitmap, bool committed) => throw BackupStep();
        public Task<IReadOnlyList<RestoredDisk>> Restore(string newVmId, IReadOnlyList<DiskRestore> disks) => throw BackupStep();
        public Task RemoveVm(string vmId) => throw BackupStep();
    }

    private static GuestReport Running(string vmId, long bootId, int availableMb, int pluggedMb = 0, int balloonedMb = 0) =>
        new(vmId, bootId, GuestRunState.Running, 4242, DateTimeOffset.UtcNow, new GuestStats(390, 300, availableMb, 20), balloonedMb, pluggedMb);

    [Fact]
    public async Task An_agent_registers_its_host_and_only_a_host_of_its_own()
    {
        string run = Guid.NewGuid().ToString("N")[..8];
        var real = fixture.Grains.GetGrain<IHostGrain>($"ag-{run}");
        var info = await real.RegisterAgent(new AgentRegistration(4096, 512, "tcg", "m1"));
        Assert.Equal((HostDriver.Qemu, "tcg", 4096, 512), (info.Driver, info.Accel, info.MemoryMb, info.ReserveMb));
        Assert.Equal(HostDriver.Qemu, (await real.RegisterAgent(new AgentRegistration(4096, 512, "tcg", "m1"))).Driver);   // a restarted agent
        Assert.Equal("host-exists", (await Assert.ThrowsAsync<HvRuleException>(() => real.RegisterAgent(new AgentRegistration(8192, 512, "tcg", "m1")))).Rule);
        Assert.Equal("accel-kvm-or-tcg", (await Assert.ThrowsAsync<HvRuleException>(() => real.RegisterAgent(new AgentRegistration(4096, 512, "xen", "m1")))).Rule);

        var modelled = fixture.Grains.GetGrain<IHostGrain>($"am-{run}");
        await modelled.Add(4096, 512);
        Assert.Equal("host-driver", (await Assert.ThrowsAsync<HvRuleException>(() => modelled.RegisterAgent(new AgentRegistration(4096, 512, "tcg", "m1")))).Rule);
        Assert.Equal(HostDriver.Model, (await modelled.GetInfo()).Driver);
    }

    [Fact]
    public async Task Demand_comes_from_the_guest_a_stale_boot_changes_nothing_and_a_crash_stops_the_VM()
    {
        string run = Guid.NewGuid().ToString("N")[..8], hostId = $"as-{run}", vm = $"as-vm-{run}";
        var host = fixture.Grains.GetGrain<IHostGrain>(hostId);
        var agent = new FakeAgent();
        var reference = fixture.Grains.CreateObjectReference<IHostAgent>(agent);
        await host.RegisterAgent(new AgentRegistration(4096, 0, "tcg", "m1"));
        await fixture.Grains.GetGrain<IVmGrain>(vm).Create(hostId, new VmConfig(1024, 512, 2048));
        await fixture.Grains.GetGrain<IVmGrain>(vm).Start();

        var plan = await host.SyncGuests(new HostSync([], reference));
        Assert.Equal(new PlannedVm(vm, 1, true, new VmConfig(1024, 512, 2048), 1024, 1024, VmDisks.Default), Assert.Single(plan.Vms));
        Assert.Equal("demand-from-guest", (await Assert.ThrowsAsync<HvRuleException>(() => fixture.Grains.GetGrain<IVmGrain>(vm).ReportDemand(500))).Rule);

        await host.SyncGuests(new HostSync([Running(vm, 1, availableMb: 600)], reference));
        var info = await host.GetVm(vm);
        Assert.Equal(1024 - 600, info.HostView.DemandMb);
        Assert.Equal(new GuestMemoryView(390, 70, 300, 20), info.GuestView);   // the guest's own figures
        Assert.Equal((4242, HostDriver.Qemu), (info.Real!.Pid, info.Driver));

        // A crash of an older boot (a report delayed across a restart of the VM) is not this boot's.
        await host.SyncGuests(new HostSync([new GuestReport(vm, 0, GuestRunState.Crashed, 1, DateTimeOffset.UtcNow, null, 0, 0, "old")], reference));
        Assert.Equal("Running", (await host.GetVm(vm)).State);

        await host.SyncGuests(new HostSync([new GuestReport(vm, 1, GuestRunState.Crashed, 4242, DateTimeOffset.UtcNow, null, 0, 0, "QEMU process 4242 ended")], reference));
        var crashed = await host.GetVm(vm);
        Assert.Equal(("Crashed", 0, "QEMU process 4242 ended"), (crashed.State, crashed.HostView.AssignedMb, crashed.CrashReason));
        Assert.Equal(0, (await host.GetInfo()).AssignedMb);

        await fixture.Grains.GetGrain<IVmGrain>(vm).Start();
        var again = Assert.Single((await host.SyncGuests(new HostSync([], reference))).Vms);
        Assert.Equal((2L, true), (again.BootId, again.Running));
        Assert.Null((await host.GetVm(vm)).CrashReason);
    }

    [Fact]
    public async Task Exec_goes_through_the_agent_and_only_to_a_running_real_guest()
    {
        string run = Guid.NewGuid().ToString("N")[..8], hostId = $"ae-{run}", vm = $"ae-vm-{run}";
        var host = fixture.Grains.GetGrain<IHostGrain>(hostId);
        var agent = new FakeAgent();
        await host.RegisterAgent(new AgentRegistration(4096, 0, "tcg", "m1"));
        await fixture.Grains.GetGrain<IVmGrain>(vm).Create(hostId, new VmConfig(1024, 512, 2048));
        Assert.Equal("vm-must-be-running", (await Assert.ThrowsAsync<HvRuleException>(() => host.ExecInGuest(vm, ["true"], TimeSpan.FromSeconds(5)))).Rule);
        await fixture.Grains.GetGrain<IVmGrain>(vm).Start();
        Assert.Equal("agent-connected", (await Assert.ThrowsAsync<HvRuleException>(() => host.ExecInGuest(vm, ["true"], TimeSpan.FromSeconds(5)))).Rule);

        await host.SyncGuests(new HostSync([], fixture.Grains.CreateObjectReference<IHostAgent>(agent)));
        Assert.Equal("exec-timeout", (await Assert.ThrowsAsync<HvRuleException>(() => host.ExecInGuest(vm, ["true"], TimeSpan.FromSeconds(26)))).Rule);
        Assert.Equal("exec-command", (await Assert.ThrowsAsync<HvRuleException>(() => host.ExecInGuest(vm, [], TimeSpan.FromSeconds(5)))).Rule);
        Assert.Equal(new GuestExecResult(3, "out\n", "err\n"), await host.ExecInGuest(vm, ["free", "-m"], TimeSpan.FromSeconds(5)));
        Assert.Equal(vm, agent.Calls.Single().VmId);
        Assert.Equal(["free", "-m"], agent.Calls.Single().Argv);

        var modelled = fixture.Grains.GetGrain<IHostGrain>($"aem-{run}");
        await modelled.Add(4096, 0);
        await fixture.Grains.GetGrain<IVmGrain>($"aem-vm-{run}").Create($"aem-{run}", new VmConfig(1024, 512, 2048));
        Assert.Equal("vm-real-guest", (await Assert.ThrowsAsync<HvRuleException>(() => modelled.ExecInGuest($"aem-vm-{run}", ["true"], TimeSpan.FromSeconds(5)))).Rule);
    }
}
