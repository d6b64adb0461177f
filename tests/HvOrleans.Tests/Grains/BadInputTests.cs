using HvOrleans.Backup;
using HvOrleans.Tests.Infrastructure;

namespace HvOrleans.Tests.Grains;

/// <summary>
/// Every grain entry point against each class of bad input (docs/RELIABILITY.md, "Bad input"): the
/// request is refused with the rule it broke, and what is stored afterwards is what was stored before.
/// </summary>
public sealed class BadInputTests(MemoryClusterFixture fixture) : IClassFixture<MemoryClusterFixture>
{
    private readonly IGrainFactory _grains = fixture.Grains;
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];

    private static async Task<string> RuleOf(Func<Task> call) => (await Assert.ThrowsAsync<HvRuleException>(call)).Rule;

    public static TheoryData<string> BadIds => new()
    {
        new string('a', 65), "a/b", "..", "../etc", "a\\b", "a b", "a\nb", "a\0b", "hôte", "ü", "🙂", "-leading-dash", "a:b", "a@b",
    };

    [Theory]
    [MemberData(nameof(BadIds))]
    public async Task A_host_vm_or_job_id_outside_the_id_rule_is_refused_and_nothing_is_created(string id)
    {
        Assert.Equal("host-id-format", await RuleOf(() => _grains.GetGrain<IHostGrain>(id).Add(8192, 1024)));
        Assert.Equal("host-must-exist", await RuleOf(() => _grains.GetGrain<IHostGrain>(id).GetInfo()));
        string host = $"ids-{_run}";
        await _grains.GetGrain<IHostGrain>(host).Add(8192, 1024);
        Assert.Equal("vm-id-format", await RuleOf(() => _grains.GetGrain<IVmGrain>(id).Create(host, new VmConfig(1024, 512, 2048))));
        Assert.Equal("vm-id-format", await RuleOf(() => _grains.GetGrain<IHostGrain>(host).CreateVm(id, new VmConfig(1024, 512, 2048))));
        Assert.Empty((await _grains.GetGrain<IHostGrain>(host).GetInfo()).AssignedMbByVm);
        Assert.Equal("backup-job-id-format", await RuleOf(() => _grains.GetGrain<IBackupJobGrain>(id).Start(["x"], false)));
        Assert.Equal("backup-job-must-exist", await RuleOf(() => _grains.GetGrain<IBackupJobGrain>(id).GetInfo()));
    }

    [Theory]
    [InlineData(0, 0, "host-memory-size")]
    [InlineData(-2048, 0, "host-memory-size")]
    [InlineData(8191, 1024, "host-memory-size")]                 // not a multiple of 2 MB
    [InlineData(int.MaxValue, 1024, "host-memory-size")]         // overflow-sized
    [InlineData(8192, 8192, "host-reserve-size")]
    [InlineData(8192, -2, "host-reserve-size")]
    [InlineData(8192, 1023, "host-reserve-size")]
    public async Task Host_sizes_out_of_range_are_refused_and_no_host_is_created(int memoryMb, int reserveMb, string rule)
    {
        var host = _grains.GetGrain<IHostGrain>($"size-{_run}-{memoryMb}-{reserveMb}");
        Assert.Equal(rule, await RuleOf(() => host.Add(memoryMb, reserveMb)));
        Assert.Equal("host-must-exist", await RuleOf(() => host.GetInfo()));
    }

    [Theory]
    [InlineData(1024, 2048, 4096, 20, 5000, "minimum-le-startup")]
    [InlineData(4096, 512, 2048, 20, 5000, "startup-le-maximum")]
    [InlineData(1024, 16, 2048, 20, 5000, "minimum-at-least-32mb")]
    [InlineData(1025, 512, 2048, 20, 5000, "size-multiple-of-2mb")]
    [InlineData(1024, 512, 1_048_578, 20, 5000, "maximum-le-1tb")]
    [InlineData(1024, 512, int.MaxValue - 1, 20, 5000, "maximum-le-1tb")]
    [InlineData(1024, 512, 2048, 4, 5000, "buffer-5-to-2000-percent")]
    [InlineData(1024, 512, 2048, 2001, 5000, "buffer-5-to-2000-percent")]
    [InlineData(1024, 512, 2048, 20, 10_001, "weight-0-to-10000")]
    [InlineData(1024, 512, 2048, 20, -1, "weight-0-to-10000")]
    public async Task A_vm_config_that_breaks_a_rule_is_refused_and_no_vm_is_created(int startup, int minimum, int maximum, int buffer, int weight, string rule)
    {
        string host = $"cfg-{_run}", vm = $"cfg-{_run}-{rule}-{startup}-{maximum}-{buffer}-{weight}".Replace("--", "-m");
        await _grains.GetGrain<IHostGrain>(host).Add(16384, 1024);
        Assert.Equal(rule, await RuleOf(() => _grains.GetGrain<IVmGrain>(vm[..Math.Min(64, vm.Length)]).Create(host, new VmConfig(startup, minimum, maximum, buffer, weight))));
        Assert.Equal("vm-must-exist", await RuleOf(() => _grains.GetGrain<IVmGrain>(vm[..Math.Min(64, vm.Length)]).GetInfo()));
        Assert.Empty((await _grains.GetGrain<IHostGrain>(host).GetInfo()).AssignedMbByVm);
    }

    [Fact]
    public async Task Unknown_ids_wrong_states_and_duplicates_are_refused_and_change_nothing()
    {
        string host = $"life-{_run}", vm = $"life-vm-{_run}", other = $"life-other-{_run}";
        var hostGrain = _grains.GetGrain<IHostGrain>(host);
        var config = new VmConfig(2048, 512, 8192);
        // Unknown ids.
        Assert.Equal("host-must-exist", await RuleOf(() => _grains.GetGrain<IVmGrain>(vm).Create($"nohost-{_run}", config)));
        Assert.Equal("vm-must-exist", await RuleOf(() => _grains.GetGrain<IVmGrain>(vm).GetInfo()));
        Assert.Equal("vm-must-exist", await RuleOf(() => _grains.GetGrain<IGuestDiskGrain>(vm).GetInfo()));
        await hostGrain.Add(8192, 1024);
        Assert.Equal("vm-must-exist", await RuleOf(() => hostGrain.ReportDemands([new VmDemand($"ghost-{_run}", 100)])));
        Assert.Equal("backup-must-exist", await RuleOf(() => _grains.GetGrain<IBackupMediaGrain>(vm).Verify($"{vm}@nojob")));
        Assert.Equal("backup-id-format", await RuleOf(() => Task.FromResult(BackupIds.VmOf("no-at-sign"))));
        Assert.Equal("backup-job-must-exist", await RuleOf(() => _grains.GetGrain<IBackupJobGrain>($"nojob-{_run}").Cancel()));

        // Wrong lifecycle state: a stopped VM reports no demand and writes nothing.
        var created = await _grains.GetGrain<IVmGrain>(vm).Create(host, config);
        Assert.Equal("vm-must-be-running", await RuleOf(() => _grains.GetGrain<IVmGrain>(vm).ReportDemand(1000)));
        Assert.Equal("vm-must-be-running", await RuleOf(() => _grains.GetGrain<IGuestDiskGrain>(vm).Write(new DiskWrite(0, 512, 1))));
        var running = await _grains.GetGrain<IVmGrain>(vm).Start();
        // Out of range and overflow-sized demand; changes only within the running rules.
        Assert.Equal("demand-0-to-1tb", await RuleOf(() => _grains.GetGrain<IVmGrain>(vm).ReportDemand(-1)));
        Assert.Equal("demand-0-to-1tb", await RuleOf(() => _grains.GetGrain<IVmGrain>(vm).ReportDemand(int.MaxValue)));
        Assert.Equal("startup-fixed-while-running", await RuleOf(() => _grains.GetGrain<IVmGrain>(vm).Configure(new VmConfigChange(StartupMb: 4096))));
        Assert.Equal("maximum-only-raised-while-running", await RuleOf(() => _grains.GetGrain<IVmGrain>(vm).Configure(new VmConfigChange(MaximumMb: 4096))));
        Assert.Equal("minimum-only-lowered-while-running", await RuleOf(() => _grains.GetGrain<IVmGrain>(vm).Configure(new VmConfigChange(MinimumMb: 1024))));
        Assert.Equal(running, await _grains.GetGrain<IVmGrain>(vm).GetInfo());

        // Duplicates: the same create again is the same VM; another config or host is refused.
        Assert.Equal(created.Snapshot.Config, (await _grains.GetGrain<IVmGrain>(vm).Create(host, config)).Snapshot.Config);
        Assert.Equal("vm-exists", await RuleOf(() => _grains.GetGrain<IVmGrain>(vm).Create(host, config with { MaximumMb = 4096 })));
        Assert.Equal("host-exists", await RuleOf(() => hostGrain.Add(16384, 1024)));
        Assert.Equal("backup-vms-distinct", await RuleOf(() => _grains.GetGrain<IBackupJobGrain>($"dup-{_run}").Start([vm, vm], false)));
        Assert.Equal("backup-needs-vms", await RuleOf(() => _grains.GetGrain<IBackupJobGrain>($"none-{_run}").Start([], false)));

        // A start the host cannot make room for changes nothing.
        await _grains.GetGrain<IVmGrain>(other).Create(host, new VmConfig(6144, 6144, 6144));
        var before = await hostGrain.GetInfo();
        Assert.Equal("host-capacity", await RuleOf(() => _grains.GetGrain<IVmGrain>(other).Start()));
        Assert.Equal(before.AssignedMbByVm.OrderBy(e => e.Key), (await hostGrain.GetInfo()).AssignedMbByVm.OrderBy(e => e.Key));
        Assert.Equal(1, (await hostGrain.GetInfo()).AssignedMbByVm.Count(e => e.Value > 0));
    }

    public static TheoryData<int[], string> BadDisks => new()
    {
        { [], "disks-1-to-8" },
        { [1, 1, 1, 1, 1, 1, 1, 1, 1], "disks-1-to-8" },
        { [0], "disk-1-to-1024-gb" },
        { [1, -4], "disk-1-to-1024-gb" },
        { [1025], "disk-1-to-1024-gb" },
        { [int.MaxValue], "disk-1-to-1024-gb" },
    };

    [Theory]
    [MemberData(nameof(BadDisks))]
    public async Task Data_disks_out_of_range_are_refused_and_no_vm_is_created(int[] sizesGb, string rule)
    {
        string host = $"disks-{_run}", vm = $"disks-vm-{_run}";
        await _grains.GetGrain<IHostGrain>(host).RegisterAgent(new AgentRegistration(8192, 1024, "tcg", "m1"));
        Assert.Equal(rule, await RuleOf(() => _grains.GetGrain<IVmGrain>(vm).Create(host, new VmConfig(1024, 512, 2048), new VmDisks(sizesGb))));
        Assert.Empty((await _grains.GetGrain<IHostGrain>(host).GetInfo()).AssignedMbByVm);
        Assert.Equal("vm-must-exist", await RuleOf(() => _grains.GetGrain<IVmGrain>(vm).GetInfo()));
    }

    [Fact]
    public async Task A_real_vms_disks_backups_and_deletion_are_refused_in_the_wrong_state_and_change_nothing()
    {
        string real = $"real-{_run}", model = $"model-{_run}", vm = $"real-vm-{_run}", modelled = $"model-vm-{_run}";
        var host = _grains.GetGrain<IHostGrain>(real);
        await host.RegisterAgent(new AgentRegistration(8192, 1024, "tcg", "m1"));
        await _grains.GetGrain<IHostGrain>(model).Add(8192, 1024);
        var config = new VmConfig(1024, 512, 2048);
        var created = await _grains.GetGrain<IVmGrain>(vm).Create(real, config, new VmDisks([1, 4]));
        // The same VM with other disks is another VM.
        Assert.Equal("vm-exists", await RuleOf(() => _grains.GetGrain<IVmGrain>(vm).Create(real, config, new VmDisks([1]))));
        // A real VM's disks are the guest's own: hv disk write is for modelled guests.
        Assert.Equal("disk-real-guest", await RuleOf(() => _grains.GetGrain<IGuestDiskGrain>(vm).Write(new DiskWrite(0, 512, 1))));
        // A real VM is backed up live: a stopped one is refused, and the refused job leaves nothing.
        Assert.Equal("vm-must-be-running", await RuleOf(() => _grains.GetGrain<IBackupJobGrain>($"off-{_run}").Start([vm], false)));
        Assert.Equal("backup-job-must-exist", await RuleOf(() => _grains.GetGrain<IBackupJobGrain>($"off-{_run}").GetInfo()));
        await _grains.GetGrain<IVmGrain>(modelled).Create(model, config);
        Assert.Equal("vm-real-guest", await RuleOf(() => _grains.GetGrain<IHostGrain>(model).AcquireBackup(modelled, "j0")));

        // Held by a backup: not stopped, not taken by another job; let go, it stops.
        await _grains.GetGrain<IVmGrain>(vm).Start();
        Assert.Equal(new VmDisks([1, 4]), await host.AcquireBackup(vm, "j1"));
        Assert.Equal(new VmDisks([1, 4]), await host.AcquireBackup(vm, "j1"));   // the same job again
        Assert.Equal("vm-backup-running", await RuleOf(() => host.AcquireBackup(vm, "j2")));
        Assert.Equal("vm-backup-running", await RuleOf(() => _grains.GetGrain<IVmGrain>(vm).Stop()));
        Assert.Equal("Running", (await _grains.GetGrain<IVmGrain>(vm).GetInfo()).State);
        await host.ReleaseBackup(vm, "j2");   // not the holder: no effect
        Assert.Equal("vm-backup-running", await RuleOf(() => _grains.GetGrain<IVmGrain>(vm).Stop()));
        await host.ReleaseBackup(vm, "j1");

        // Deletion: not while it runs, not without the agent that holds its disks, never a modelled VM.
        Assert.Equal("vm-must-be-stopped", await RuleOf(() => _grains.GetGrain<IVmGrain>(vm).Delete()));
        await _grains.GetGrain<IVmGrain>(vm).Stop();
        Assert.Equal("agent-connected", await RuleOf(() => _grains.GetGrain<IVmGrain>(vm).Delete()));
        Assert.Equal(created.Snapshot with { Memory = VmMemory.Stopped }, (await _grains.GetGrain<IVmGrain>(vm).GetInfo()).Snapshot with { Memory = VmMemory.Stopped });
        Assert.Equal("vm-delete-real-only", await RuleOf(() => _grains.GetGrain<IVmGrain>(modelled).Delete()));
        Assert.Equal(model, await _grains.GetGrain<IVmGrain>(modelled).GetHostId());
    }

    [Fact]
    public void An_empty_id_never_leaves_the_client() =>
        Assert.Throws<ArgumentException>(() => _grains.GetGrain<IHostGrain>(""));

    [Fact]
    public async Task Concurrent_conflicting_creates_leave_exactly_one()
    {
        string host = $"race-{_run}", vm = $"race-vm-{_run}";
        await _grains.GetGrain<IHostGrain>(host).Add(65536, 1024);
        var configs = Enumerable.Range(0, 8).Select(i => new VmConfig(1024, 512, 2048 + 2 * i)).ToArray();
        var attempts = await Task.WhenAll(configs.Select(async c =>
        {
            try { return (await _grains.GetGrain<IVmGrain>(vm).Create(host, c)).Snapshot.Config; }
            catch (HvRuleException e) when (e.Rule == "vm-exists") { return null; }
        }));
        var winner = Assert.Single(attempts, a => a is not null);
        Assert.Equal(winner, (await _grains.GetGrain<IVmGrain>(vm).GetInfo()).Snapshot.Config);
        Assert.Equal([vm], (await _grains.GetGrain<IHostGrain>(host).GetInfo()).AssignedMbByVm.Keys);
    }
}
