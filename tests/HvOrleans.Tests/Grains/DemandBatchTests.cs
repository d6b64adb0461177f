using HvOrleans.Tests.Infrastructure;

namespace HvOrleans.Tests.Grains;

/// <summary>
/// A host reported whole every tick (the fleet simulator's demand batch) on Azure storage: a tick that
/// resizes writes once, carrying the resized VMs; every read sees every report; a bad batch is refused
/// whole; what the host assigned is read back from storage after its grain is gone.
/// </summary>
[Collection(WriteCountingCollection.Name)]
public sealed class DemandBatchTests(AzureClusterFixture fixture) : IClassFixture<AzureClusterFixture>
{
    [Fact]
    public async Task A_batch_is_seen_by_every_read_written_with_its_resizes_and_refused_whole()
    {
        string run = Guid.NewGuid().ToString("N")[..8], hostId = $"batch-{run}";
        var host = fixture.Grains.GetGrain<IHostGrain>(hostId);
        await host.Add(16384, 1024);
        string[] vms = [$"{run}-a", $"{run}-b", $"{run}-c"];
        foreach (var vm in vms)
        {
            await host.CreateVm(vm, new VmConfig(2048, 512, 8192));
            await host.StartVm(vm);
        }
        await host.ReportAndBalance(new DemandBatch(vms, [1700, 1700, 1700]), "hyperv", 30);   // Startup covers every target

        using var writes = new StorageWriteCounter();

        var grown = await host.ReportAndBalance(new DemandBatch(vms, [1702, 1690, 5000]), "hyperv", 30);
        Assert.Equal([2], grown.Resized.Select(i => Array.IndexOf(vms, grown.VmIds[i])));   // only c grew, to its target
        Assert.Equal(6016, grown.AssignedMb[0]);                                          // 5000 + 20 % buffer, rounded up to 128 MB
        Assert.Equal(1L, writes.Writes);
        Assert.Equal(2048L + 2048 + 6016, grown.HostAssignedMb);
        // Reports of VMs that were not resized are held, and every read sees them.
        Assert.Equal(new[] { 1702, 1690, 5000 }, await DemandsAsync(host, vms));

        var quiet = await host.ReportAndBalance(new DemandBatch(vms, [1705, 1680, 5010]), "hyperv", 30);
        Assert.Empty(quiet.Resized);
        Assert.Equal(1L, writes.Writes);                                   // a report alone is not written
        Assert.Equal(new[] { 1705, 1680, 5010 }, await DemandsAsync(host, vms));

        Assert.Equal("demand-batch-shape", (await Assert.ThrowsAsync<HvRuleException>(() => host.ReportAndBalance(new DemandBatch(vms, [1, 2]), "hyperv", 30))).Rule);
        Assert.Equal("vm-must-exist", (await Assert.ThrowsAsync<HvRuleException>(() => host.ReportAndBalance(new DemandBatch([vms[0], $"{run}-x"], [9000, 100]), "hyperv", 30))).Rule);
        Assert.Equal("demand-0-to-1tb", (await Assert.ThrowsAsync<HvRuleException>(() => host.ReportAndBalance(new DemandBatch(vms, [9000, 9000, -1]), "hyperv", 30))).Rule);
        Assert.Equal(new[] { 1705, 1680, 5010 }, await DemandsAsync(host, vms));                   // refused whole: nothing held
        Assert.Equal(1L, writes.Writes);

        var before = await host.GetInfo();
        var management = fixture.Grains.GetGrain<IManagementGrain>(0);
        await management.ForceActivationCollection(TimeSpan.Zero);
        Assert.DoesNotContain(host.GetGrainId(), await management.GetActiveGrains(host.GetGrainId().Type));
        var after = await host.GetInfo();                                                  // read from Azurite
        Assert.Equal(before.AssignedMbByVm.OrderBy(e => e.Key), after.AssignedMbByVm.OrderBy(e => e.Key));
        Assert.Equal(5000, (await host.GetVm(vms[2])).HostView.DemandMb);                   // written with its resize
    }

    private static async Task<int[]> DemandsAsync(IHostGrain host, string[] vms) =>
        [.. await Task.WhenAll(vms.Select(async vm => (await host.GetVm(vm)).HostView.DemandMb))];
}
