using HvOrleans.Tests.Infrastructure;

namespace HvOrleans.Tests.Grains;

/// <summary>Guests report every second; storage is written when a decision changes memory, not per report.</summary>
[Collection(WriteCountingCollection.Name)]
public sealed class DemandReportTests(MemoryClusterFixture fixture) : IClassFixture<MemoryClusterFixture>
{
    [Fact]
    public async Task Reports_that_change_no_decision_write_nothing_and_a_report_that_does_is_written_with_it()
    {
        string run = Guid.NewGuid().ToString("N")[..8], hostId = $"rep-{run}", vm = $"rep-vm-{run}";
        var host = fixture.Grains.GetGrain<IHostGrain>(hostId);
        await host.Add(16384, 1024);
        await fixture.Grains.GetGrain<IVmGrain>(vm).Create(hostId, new VmConfig(2048, 512, 8192));
        await fixture.Grains.GetGrain<IVmGrain>(vm).Start();
        await fixture.Grains.GetGrain<IVmGrain>(vm).ReportDemand(1700);          // target 2040: Startup 2048 already covers it
        await host.Balance("hyperv");

        using var writes = new StorageWriteCounter();
        foreach (int demandMb in new[] { 1702, 1690, 1706, 1700, 1698 })     // a guest's noise: no resize
        {
            await host.ReportDemands([new VmDemand(vm, demandMb)]);
            await host.Balance("hyperv");
        }
        Assert.Equal(0, writes.Writes);
        Assert.Equal(1698, (await host.GetVm(vm)).HostView.DemandMb);        // held, and seen by every pass

        await host.ReportDemands([new VmDemand(vm, 5000)]);
        var report = await host.Balance("hyperv");
        Assert.Equal((1, 1L), (report.Resizes.Count, writes.Writes));   // the decision and its demand, in one write
        Assert.Equal("vm-must-exist", (await Assert.ThrowsAsync<HvRuleException>(() => host.ReportDemands([new VmDemand(vm, 100), new VmDemand($"x-{run}", 100)]))).Rule);
        Assert.Equal(5000, (await host.GetVm(vm)).HostView.DemandMb);        // refused whole
    }
}
