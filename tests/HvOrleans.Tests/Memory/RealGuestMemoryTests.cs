namespace HvOrleans.Tests.Memory;

/// <summary>Hyper-V's figures mapped to QEMU's devices (docs/REAL-GUESTS.md), and a real guest's demand.</summary>
public sealed class RealGuestMemoryTests
{
    [Theory]
    [InlineData(512, 512, 512, 0, 0)]          // booted: nothing plugged, nothing ballooned
    [InlineData(512, 1024, 1024, 512, 0)]      // four blocks hot-added
    [InlineData(512, 1024, 768, 512, 256)]     // then 256 MB ballooned: the total stays
    [InlineData(512, 1536, 1026, 1024, 510)]   // ballooned exactly as far as boot RAM can count
    [InlineData(512, 1536, 300, 298, 510)]     // deeper: 726 MB unplugged, the one place the total shrinks
    public void Targets_put_hot_add_in_virtio_mem_and_the_balloon_in_boot_ram(int startupMb, int highWaterMb, int assignedMb, int pluggedMb, int balloonMb) =>
        Assert.Equal(new DeviceTargets(pluggedMb, balloonMb), RealGuestMemory.Targets(startupMb, highWaterMb, assignedMb));

    [Theory]
    [InlineData(512, 1024, 1025)]
    [InlineData(512, 400, 400)]
    [InlineData(512, 1024, 0)]
    public void Targets_refuse_an_impossible_ledger(int startupMb, int highWaterMb, int assignedMb) =>
        Assert.Equal("assigned-within-high-water", Assert.Throws<HvRuleException>(() => RealGuestMemory.Targets(startupMb, highWaterMb, assignedMb)).Rule);

    [Theory]
    [InlineData(512, 0, 0, 349, 163)]          // idle, as measured: MemAvailable 349 MB of 512 MB boot RAM
    [InlineData(512, 128, 0, 173, 467)]        // 290 MB loaded, one block hot-added
    [InlineData(512, 128, 128, 349, 163)]      // ballooned pages are held by the host, not demanded by the guest
    [InlineData(512, 0, 0, 600, 0)]            // never negative
    public void Demand_is_what_the_guest_holds_less_what_it_could_give_up(int startupMb, int pluggedMb, int balloonedMb, int availableMb, int demandMb) =>
        Assert.Equal(demandMb, RealGuestMemory.DemandMb(startupMb, pluggedMb, balloonedMb, availableMb));
}
