using CsCheck;
using Orleans.Runtime;
using HvOrleans.Tests.Infrastructure;

namespace HvOrleans.Tests.Grains;

/// <summary>The Dynamic Memory behaviour through real grains; runs once per storage provider.</summary>
public abstract class DynamicMemoryGrainTests(ClusterFixture fixture)
{
    private readonly IGrainFactory _grains = fixture.Grains;
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];

    private string Id(string name) => $"{name}-{_run}";
    private IHostGrain Host(string id) => _grains.GetGrain<IHostGrain>(id);
    private IVmGrain Vm(string id) => _grains.GetGrain<IVmGrain>(id);
    private IHostBalancerGrain Balancer(string hostId) => _grains.GetGrain<IHostBalancerGrain>(hostId);

    private async Task<(string Host, string Vm)> RunningVmAsync(int hostMb = 16384, VmConfig? config = null)
    {
        string host = Id("host"), vm = Id("vm");
        await Host(host).Add(hostMb, 1024);
        await Vm(vm).Create(host, config ?? new VmConfig(2048, 512, 8192));
        await Vm(vm).Start();
        return (host, vm);
    }

    [Fact]
    public async Task Three_step_example_hot_adds_balloons_and_unballoons()
    {
        var (host, vm) = await RunningVmAsync();
        var boot = await Vm(vm).GetInfo();
        Assert.Equal((2048, 2016), (boot.HostView.AssignedMb, boot.GuestView.TotalMb));

        await Vm(vm).ReportDemand(5000);
        await Balancer(host).BalanceNow();
        var loaded = await Vm(vm).GetInfo();
        Assert.Equal((6016, 5984, 3968), (loaded.HostView.AssignedMb, loaded.GuestView.TotalMb, loaded.Snapshot.Memory.HotAddedMb(loaded.Snapshot.Config)));

        await Vm(vm).ReportDemand(1000);
        await Balancer(host).BalanceNow();
        var idle = await Vm(vm).GetInfo();
        Assert.Equal((1638, 5984, 4378), (idle.HostView.AssignedMb, idle.GuestView.TotalMb, idle.GuestView.BuffCacheMb));

        await Vm(vm).ReportDemand(3000);
        await Balancer(host).BalanceNow();
        var again = await Vm(vm).GetInfo();
        Assert.Equal((3600, 5984, 2416), (again.HostView.AssignedMb, again.GuestView.TotalMb, again.GuestView.BuffCacheMb));
        Assert.Equal(3600, (await Host(host).GetInfo()).AssignedMb);
    }

    [Fact]
    public async Task A_hosts_balancer_runs_the_policy_set_for_it_which_a_bad_name_does_not_change()
    {
        var (host, vm) = await RunningVmAsync();
        Assert.Equal("hyperv", (await Host(host).GetInfo()).Policy);
        var refused = await Assert.ThrowsAsync<HvRuleException>(() => Host(host).SetPolicy("best"));
        Assert.Equal("policy-known", refused.Rule);
        Assert.Equal("hyperv", (await Host(host).GetInfo()).Policy);

        // Static keeps what every VM has: the demand that Hyper-V's policy would hot-add for is left alone.
        Assert.Equal("static", (await Host(host).SetPolicy("Static")).Policy);
        await Vm(vm).ReportDemand(5000);
        Assert.Empty((await Balancer(host).BalanceNow()).Resizes);
        Assert.Equal(2048, (await Vm(vm).GetInfo()).HostView.AssignedMb);

        Assert.Equal("hyperv", (await Host(host).SetPolicy("hyperv")).Policy);
        await Balancer(host).BalanceNow();
        Assert.Equal(6016, (await Vm(vm).GetInfo()).HostView.AssignedMb);
    }

    [Fact]
    public async Task Host_and_vm_state_read_back_after_their_grains_are_deactivated()
    {
        var (host, vm) = await RunningVmAsync();
        await Vm(vm).ReportDemand(5000);
        await Balancer(host).BalanceNow();
        var (vmBefore, hostBefore) = (await Vm(vm).GetInfo(), await Host(host).GetInfo());
        var management = _grains.GetGrain<IManagementGrain>(0);
        var vmGrain = Vm(vm).GetGrainId();
        Assert.Contains(vmGrain, await management.GetActiveGrains(vmGrain.Type));
        await management.ForceActivationCollection(TimeSpan.Zero);
        Assert.DoesNotContain(vmGrain, await management.GetActiveGrains(vmGrain.Type));   // gone: what follows is read from storage
        var (vmAfter, hostAfter) = (await Vm(vm).GetInfo(), await Host(host).GetInfo());
        Assert.Contains(vmGrain, await management.GetActiveGrains(vmGrain.Type));
        Assert.Equal(vmBefore, vmAfter);
        Assert.Equal(hostBefore.AssignedMbByVm.ToArray(), hostAfter.AssignedMbByVm.ToArray());
        Assert.Equal((hostBefore.MemoryMb, hostBefore.ReserveMb, hostBefore.AssignedMb), (hostAfter.MemoryMb, hostAfter.ReserveMb, hostAfter.AssignedMb));
    }

    [Fact]
    public async Task Balancer_applies_a_demand_change_without_being_asked()
    {
        var (_, vm) = await RunningVmAsync();
        await Vm(vm).ReportDemand(5000);
        var info = await Eventually.WaitForAsync(() => Vm(vm).GetInfo(), i => i.HostView.AssignedMb == 6016, "the balancer's timer to hot-add to 6016 MB");
        Assert.Equal(5984, info.GuestView.TotalMb);
    }

    [Fact]
    public async Task Invalid_config_is_refused_and_nothing_is_persisted()
    {
        string host = Id("host"), vm = Id("vm");
        await Host(host).Add(16384, 1024);
        var e = await Assert.ThrowsAsync<HvRuleException>(() => Vm(vm).Create(host, new VmConfig(2048, 4096, 8192)));
        Assert.Equal("minimum-le-startup", e.Rule);
        Assert.Equal("vm-must-exist", (await Assert.ThrowsAsync<HvRuleException>(() => Vm(vm).GetInfo())).Rule);
        Assert.Empty((await Host(host).GetInfo()).AssignedMbByVm);
    }

    [Fact]
    public async Task Vm_on_an_unknown_host_is_refused()
    {
        string vm = Id("vm");
        var e = await Assert.ThrowsAsync<HvRuleException>(() => Vm(vm).Create(Id("nohost"), new VmConfig(2048, 512, 8192)));
        Assert.Equal("host-must-exist", e.Rule);
        Assert.Equal("vm-must-exist", (await Assert.ThrowsAsync<HvRuleException>(() => Vm(vm).GetInfo())).Rule);
    }

    [Theory]
    [InlineData(4096, null, "startup-fixed-while-running")]
    [InlineData(null, 4096, "maximum-only-raised-while-running")]
    public async Task Running_vm_refuses_startup_change_and_lower_maximum(int? startupMb, int? maximumMb, string rule)
    {
        var (_, vm) = await RunningVmAsync();
        var before = await Vm(vm).GetInfo();
        var e = await Assert.ThrowsAsync<HvRuleException>(() => Vm(vm).Configure(new VmConfigChange(StartupMb: startupMb, MaximumMb: maximumMb)));
        Assert.Equal(rule, e.Rule);
        Assert.Equal(before.Snapshot, (await Vm(vm).GetInfo()).Snapshot);
    }

    [Fact]
    public async Task Start_that_cannot_be_made_room_for_is_refused_and_changes_nothing()
    {
        var (host, busy) = await RunningVmAsync(hostMb: 6144, config: new VmConfig(4096, 2048, 8192));
        await Vm(busy).ReportDemand(4000);
        // Settled first: otherwise the balancer's own 1 s pass may grow the busy VM between the two ledger reads.
        await Host(host).Balance("hyperv");
        string second = Id("second");
        await Vm(second).Create(host, new VmConfig(2048, 512, 4096));
        var ledger = (await Host(host).GetInfo()).AssignedMbByVm;
        var e = await Assert.ThrowsAsync<HvRuleException>(() => Vm(second).Start());
        Assert.Equal("host-capacity", e.Rule);
        Assert.False((await Vm(second).GetInfo()).Snapshot.Memory.Running);
        Assert.Equal(ledger, (await Host(host).GetInfo()).AssignedMbByVm);
    }

    [Fact]
    public async Task Start_balloons_an_idle_vm_to_make_room()
    {
        var (host, idle) = await RunningVmAsync(hostMb: 6144, config: new VmConfig(4096, 512, 8192));
        await Vm(idle).ReportDemand(200);
        string second = Id("second");
        await Vm(second).Create(host, new VmConfig(2048, 512, 4096));
        var started = await Vm(second).Start();
        Assert.Equal(2048, started.HostView.AssignedMb);
        var ledger = await Host(host).GetInfo();
        Assert.True(ledger.AssignedMb <= ledger.CapacityMb);
        Assert.Equal(ledger.AssignedMbByVm[idle], (await Vm(idle).GetInfo()).HostView.AssignedMb);
    }

    [Fact]
    public async Task Stop_returns_memory_and_restart_resets_the_guest_total()
    {
        var (host, vm) = await RunningVmAsync();
        await Vm(vm).ReportDemand(5000);
        await Balancer(host).BalanceNow();
        await Vm(vm).Stop();
        await Eventually.WaitForAsync(() => Host(host).GetInfo(), h => h.AssignedMb == 0, "the ledger to release the stopped VM's memory");
        var restarted = await Vm(vm).Start();
        Assert.Equal((2048, 2016, 0), (restarted.HostView.AssignedMb, restarted.GuestView.TotalMb, restarted.Snapshot.Memory.HotAddedMb(restarted.Snapshot.Config)));
    }

    [Fact]
    public async Task Random_demands_on_a_short_host_keep_every_persisted_ledger_within_capacity()
    {
        var gen = from weights in Gen.Int[0, 10_000].Array[4]
                  from demands in Gen.Int[0, 6000].Array[4].Array[6]
                  select (weights, demands);
        int round = 0;
        await gen.SampleAsync(async t =>
        {
            string host = Id($"short{round++}");
            await Host(host).Add(12288, 1024);   // 11264 MB for four VMs that may each want 7200
            var vms = Enumerable.Range(0, 4).Select(i => $"{host}-vm{i}").ToArray();
            for (int i = 0; i < 4; i++)
            {
                await Vm(vms[i]).Create(host, new VmConfig(2048, 1024, 8192, 20, t.weights[i]));
                await Vm(vms[i]).Start();
            }
            foreach (var step in t.demands)
            {
                for (int i = 0; i < 4; i++) await Vm(vms[i]).ReportDemand(step[i]);
                await Balancer(host).BalanceNow();
                var ledger = await Host(host).GetInfo();
                var infos = await Task.WhenAll(vms.Select(v => Vm(v).GetInfo()));
                Assert.True(ledger.AssignedMb <= ledger.CapacityMb, $"ledger {ledger.AssignedMb} > capacity {ledger.CapacityMb}");
                Assert.True(infos.Sum(i => (long)i.HostView.AssignedMb) <= ledger.AssignedMb, "VMs hold more than the ledger");
                Assert.All(infos, i => Assert.InRange(i.HostView.AssignedMb, i.HostView.MinimumMb, i.HostView.MaximumMb));
            }
        }, iter: 6, threads: 1);
    }
}

public sealed class DynamicMemoryGrainTestsOnMemoryStorage(MemoryClusterFixture fixture)
    : DynamicMemoryGrainTests(fixture), IClassFixture<MemoryClusterFixture>;

public sealed class DynamicMemoryGrainTestsOnAzurite(AzureClusterFixture fixture)
    : DynamicMemoryGrainTests(fixture), IClassFixture<AzureClusterFixture>;
