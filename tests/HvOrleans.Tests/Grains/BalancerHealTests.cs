using HvOrleans.Grains;
using HvOrleans.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Orleans.TestingHost;

namespace HvOrleans.Tests.Grains;

/// <summary>A host that exists is always balanced, even when the wake-up its add sent to the balancer was lost.</summary>
public sealed class BalancerHealTests(MemoryClusterFixture fixture) : IClassFixture<MemoryClusterFixture>
{
    [Fact]
    public async Task A_host_whose_balancer_was_never_woken_is_balanced_once_the_host_is_used()
    {
        string run = Guid.NewGuid().ToString("N")[..8], host = $"heal-{run}", vm = $"heal-vm-{run}";
        // The host as an add persists it, with a running VM, and no balancer ever activated: the add's wake-up was lost.
        var config = new VmConfig(2048, 512, 8192);
        var stored = new HostState(16384, 1024, HostedVms.Empty.Add(vm, new HostedVm(config, VmMemory.Boot(config))));
        var silo = (InProcessSiloHandle)fixture.Cluster.Primary!;
        var storage = silo.SiloHost.Services.GetRequiredKeyedService<IGrainStorage>(GrainStorage.Name);
        await storage.WriteStateAsync("host", GrainId.Create("host", host), new GrainState<HostState>(stored));

        // Demand arrives and nobody asks for a pass: the balancer must start by itself.
        await fixture.Grains.GetGrain<IHostGrain>(host).ReportDemand(vm, 5000);
        var grown = await Eventually.WaitForAsync(() => fixture.Grains.GetGrain<IHostGrain>(host).GetVm(vm),
            v => v.HostView.AssignedMb == 6016, "the balancer to hot-add 31 blocks with no call from anyone", seconds: 20);
        Assert.Equal(6016, grown.HostView.AssignedMb);
    }
}
