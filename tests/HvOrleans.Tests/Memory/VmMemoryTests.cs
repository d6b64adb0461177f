namespace HvOrleans.Tests.Memory;

public class VmMemoryTests
{
    private static readonly VmConfig Config = new(2048, 512, 8192);
    private const int Unlimited = int.MaxValue;

    private static VmMemory Booted(int demandMb) => VmMemory.Boot(Config).WithDemand(demandMb);

    [Fact]
    public void Boot_assigns_startup_and_guest_sees_startup_minus_firmware()
    {
        var m = VmMemory.Boot(Config);
        Assert.Equal(2048, m.AssignedMb);
        Assert.Equal(2016, m.GuestTotalMb);
        Assert.Equal(0, m.BalloonedMb);
        Assert.False(m.DemandReported);
    }

    [Theory]
    [InlineData(5000, 6000)]   // 5000 × 1.2
    [InlineData(1001, 1202)]   // 1201.2 rounds up to a whole page
    [InlineData(100, 512)]     // clamped to Minimum
    [InlineData(8000, 8192)]   // clamped to Maximum
    public void Target_is_demand_plus_buffer_clamped(int demandMb, int expectedMb) =>
        Assert.Equal(expectedMb, Booted(demandMb).TargetMb(Config));

    [Fact]
    public void Grow_hot_adds_whole_128_mb_blocks()
    {
        var m = Booted(5000).ResizeTo(Config, 6000, Unlimited);
        Assert.Equal(6016, m.AssignedMb);          // 2048 + 31 × 128
        Assert.Equal(6016, m.HighWaterMb);
        Assert.Equal(5984, m.GuestTotalMb);
        Assert.Equal(3968, m.HotAddedMb(Config));
    }

    [Fact]
    public void Last_hot_add_block_is_partial_to_land_on_maximum()
    {
        var config = new VmConfig(2048, 512, 2100);
        var m = VmMemory.Boot(config).WithDemand(2000).ResizeTo(config, 2100, Unlimited);
        Assert.Equal(2100, m.AssignedMb);
    }

    [Fact]
    public void Hot_add_stops_at_the_hosts_ceiling_with_the_part_of_a_block_the_host_can_back()
    {
        var m = Booted(5000).ResizeTo(Config, 6000, 2048 + 300);
        Assert.Equal((2048 + 300, 2048 + 300), (m.AssignedMb, m.HighWaterMb));   // two whole blocks and 44 MB of a third
    }

    [Theory]
    [InlineData(100, 8 + 50)]
    [InlineData(500, 40 + 125)]
    [InlineData(2000, 104 + 250)]
    [InlineData(5984, 232 + 374)]
    [InlineData(10000, 488 + 312)]
    public void Guest_balloon_floor_follows_hv_balloon(int guestMb, int floorMb) =>
        Assert.Equal(floorMb, VmMemory.BalloonFloorMb(guestMb));

    [Fact]
    public void Balloon_stops_at_the_guests_floor_and_shows_as_buff_cache()
    {
        var grown = Booted(5000).ResizeTo(Config, 6000, Unlimited);
        var m = grown.WithDemand(1000).ResizeTo(Config, 1200, Unlimited);
        // free 4984 − floor 606 = 4378 MB can be ballooned; the target 1200 would need 4816.
        Assert.Equal(6016 - 4378, m.AssignedMb);
        Assert.Equal(4378, m.BalloonedMb);
        Assert.Equal(5984, m.GuestTotalMb);
        Assert.Equal(4378, GuestMemoryView.Of(m).BuffCacheMb);
        Assert.Equal(606, m.GuestFreeMb);
    }

    [Fact]
    public void A_current_kernels_floor_follows_its_shrinking_total_so_the_balloon_reaches_further()
    {
        // The same VM as above on a current kernel: ballooned pages leave MemTotal, so each balloon step
        // lowers the floor for the next. Step 1 as before (total 5984, floor 606: 4378 MB); step 2: MemTotal
        // 5984 − 4378 = 1606, floor 104 + 1606/8 = 304, free 606 → 302 MB more; step 3: MemTotal 1304,
        // floor 267, free 304 → 36 MB (whole pages). A legacy kernel's floor stays 606: nothing more.
        var current = Config with { Kernel = GuestKernel.Current };
        var m = Booted(5000).ResizeTo(current, 6000, Unlimited).WithDemand(1000);
        var legacy = Booted(5000).ResizeTo(Config, 6000, Unlimited).WithDemand(1000);
        var steps = new List<int>();
        for (int i = 0; i < 3; i++)
        {
            m = m.ResizeTo(current, 1200, Unlimited);
            legacy = legacy.ResizeTo(Config, 1200, Unlimited);
            steps.Add(m.AssignedMb);
        }
        Assert.Equal([1638, 1336, 1300], steps);
        Assert.Equal(1638, legacy.AssignedMb);
        // Its free -m: the ballooned pages are gone from the total, not shown as buff/cache.
        Assert.Equal(new GuestMemoryView(5984 - 4716, 1000, 268, 0), GuestMemoryView.Of(m, GuestKernel.Current));
        Assert.Equal(new GuestMemoryView(5984, 1000, 268, 4716), GuestMemoryView.Of(m));
    }

    [Fact]
    public void Balloon_never_takes_assigned_below_minimum()
    {
        var config = new VmConfig(2048, 1800, 8192);
        var m = VmMemory.Boot(config).WithDemand(0).ResizeTo(config, 32, Unlimited);
        Assert.Equal(1800, m.AssignedMb);
    }

    [Fact]
    public void Grow_unballoons_before_any_hot_add()
    {
        var ballooned = Booted(5000).ResizeTo(Config, 6000, Unlimited).WithDemand(1000).ResizeTo(Config, 1200, Unlimited);
        var m = ballooned.WithDemand(3000).ResizeTo(Config, 3600, Unlimited);
        Assert.Equal(3600, m.AssignedMb);
        Assert.Equal(6016, m.HighWaterMb);          // no hot-add: guest total unchanged
        Assert.Equal(2416, m.BalloonedMb);
    }

    [Fact]
    public void Grow_past_ballooned_returns_all_then_hot_adds()
    {
        var ballooned = Booted(5000).ResizeTo(Config, 6000, Unlimited).WithDemand(1000).ResizeTo(Config, 1200, Unlimited);
        var m = ballooned.WithDemand(6500).ResizeTo(Config, 7800, Unlimited);
        Assert.Equal(0, m.BalloonedMb);
        Assert.Equal(6016 + 14 * 128, m.HighWaterMb);  // 7800 − 6016 = 1784 MB → 14 blocks
        Assert.Equal(7808, m.AssignedMb);
    }

    [Fact]
    public void Stopped_vm_reports_no_demand()
    {
        var e = Assert.Throws<HvRuleException>(() => VmMemory.Stopped.WithDemand(100));
        Assert.Equal("vm-must-be-running", e.Rule);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1_048_577)]
    public void Absurd_demand_is_refused(int demandMb)
    {
        var e = Assert.Throws<HvRuleException>(() => VmMemory.Boot(Config).WithDemand(demandMb));
        Assert.Equal("demand-0-to-1tb", e.Rule);
    }

    [Theory]
    [InlineData(5000, 6016, MemoryStatus.OK)]
    [InlineData(5000, 5500, MemoryStatus.Low)]
    [InlineData(5000, 4000, MemoryStatus.Warning)]
    public void Host_view_status_compares_assigned_with_demand_and_buffer(int demandMb, int assignedMb, MemoryStatus status)
    {
        var m = new VmMemory(true, assignedMb, Math.Max(assignedMb, 6016), demandMb, true);
        var view = HostMemoryView.Of(Config, m);
        Assert.Equal(status, view.Status);
        Assert.Equal((int)Math.Round(100.0 * demandMb / assignedMb), view.Pressure);
    }
}
