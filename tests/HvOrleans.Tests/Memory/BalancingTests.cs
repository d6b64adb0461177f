namespace HvOrleans.Tests.Memory;

public class BalancingTests
{
    private static BalancingVm Vm(string id, int demandMb, int weight = 5000, VmConfig? config = null)
    {
        config ??= new VmConfig(2048, 512, 8192, Weight: weight);
        return new(id, config, VmMemory.Boot(config).WithDemand(demandMb));
    }

    private static Dictionary<string, VmMemory> Pass(int capacityMb, params BalancingVm[] vms)
    {
        var after = vms.ToDictionary(v => v.VmId, v => v.Memory);
        foreach (var r in BalancingPass.Run(HyperVPolicy.Instance, capacityMb, vms)) after[r.VmId] = r.After;
        return after;
    }

    [Fact]
    public void Targets_that_fit_are_all_given()
    {
        var after = Pass(16384, Vm("a", 3000), Vm("b", 4000));
        Assert.Equal(3712, after["a"].AssignedMb);   // target 3600 → 2048 + 13 × 128
        Assert.Equal(4864, after["b"].AssignedMb);   // target 4800 → 2048 + 22 × 128
    }

    [Fact]
    public void Silent_guest_keeps_its_startup_memory()
    {
        var config = new VmConfig(2048, 512, 8192);
        var silent = new BalancingVm("s", config, VmMemory.Boot(config));
        Assert.Empty(BalancingPass.Run(HyperVPolicy.Instance, 16384, [silent]));
    }

    [Fact]
    public void Vm_within_a_block_above_target_is_left_alone()
    {
        var vm = Vm("a", 5000);
        var grown = vm with { Memory = vm.Memory.ResizeTo(vm.Config, 6000, int.MaxValue) };
        Assert.Empty(BalancingPass.Run(HyperVPolicy.Instance, 16384, [grown]));
    }

    [Fact]
    public void Shortage_covers_demand_before_buffer()
    {
        // Capacity 9000; targets 4800 each do not fit. Base 2048 each, 4904 spare: demand needs 1952 each (3904),
        // the 1000 left is buffer, 500 each, so both want 4500. Demand first: 16 blocks each → 4096 and 4096;
        // then buffer: a takes 4 blocks (512, 808 free) → 4608, b the 296 MB left of a block → 4392.
        var after = Pass(9000, Vm("a", 4000), Vm("b", 4000));
        Assert.Equal((4608, 4392), (after["a"].AssignedMb, after["b"].AssignedMb));
    }

    [Fact]
    public void Shortage_is_shared_by_weight_and_high_weight_is_short_last()
    {
        // Capacity 8192; both start at 2048 and demand 6000: 4096 spare for 7904 of need.
        var after = Pass(8192, Vm("heavy", 6000, weight: 9000), Vm("light", 6000, weight: 1000));
        int heavyGrant = after["heavy"].AssignedMb - 2048, lightGrant = after["light"].AssignedMb - 2048;
        Assert.True(heavyGrant > lightGrant * 8, $"heavy got {heavyGrant} MB, light {lightGrant} MB");
        Assert.True(after["heavy"].AssignedMb + after["light"].AssignedMb <= 8192);
    }

    [Fact]
    public void Shrinks_free_memory_that_grows_then_use()
    {
        var config = new VmConfig(2048, 512, 8192);
        var big = new BalancingVm("big", config, new VmMemory(true, 6016, 6016, 1000, true));
        var after = Pass(8192, big, Vm("small", 5000));
        Assert.True(after["big"].AssignedMb < 6016);
        Assert.True(after["small"].AssignedMb > 2048);
        Assert.True(after["big"].AssignedMb + after["small"].AssignedMb <= 8192);
    }

    [Fact]
    public void Make_room_balloons_lowest_weight_first_and_refuses_what_cannot_be_freed()
    {
        var config = new VmConfig(4096, 512, 8192, Weight: 1000);
        var idle = new BalancingVm("idle", config, VmMemory.Boot(config).WithDemand(100));
        var room = BalancingPass.MakeRoom(freeMb: 0, neededMb: 1024, [idle]);
        Assert.NotNull(room);
        Assert.Equal(4096 - 1024, room!.Single().After.AssignedMb);
        Assert.Null(BalancingPass.MakeRoom(freeMb: 0, neededMb: 8192, [idle]));
    }

    [Theory]
    [InlineData(1000, new[] { 600, 600 }, new[] { 5000, 5000 }, new[] { 500, 500 })]
    [InlineData(1000, new[] { 200, 2000 }, new[] { 5000, 5000 }, new[] { 200, 800 })]
    [InlineData(1000, new[] { 2000, 2000 }, new[] { 3000, 1000 }, new[] { 750, 250 })]
    [InlineData(1000, new[] { 400, 2000 }, new[] { 0, 1000 }, new[] { 0, 1000 })]
    [InlineData(3000, new[] { 400, 2000 }, new[] { 0, 1000 }, new[] { 400, 2000 })]
    public void Weighted_share_water_fills_in_pages(long availableMb, int[] needs, int[] weights, int[] expected) =>
        Assert.Equal(expected, WeightedShare.Distribute(availableMb, needs, weights));
}

public class PartialHotAddTests
{
    private static BalancingVm Vm(string id, int demandMb)
    {
        var config = new VmConfig(2048, 512, 8192);
        return new(id, config, VmMemory.Boot(config).WithDemand(demandMb));
    }

    [Fact]
    public void A_vm_short_of_demand_gets_the_part_of_a_block_the_host_can_back()
    {
        // Issue 12, defect 1: capacity 4296 MB, demands 1750 and 2100. Demand (3850) fits; demand plus buffer does not.
        var resizes = BalancingPass.Converge(HyperVPolicy.Instance, 4296, [Vm("a", 1750), Vm("b", 2100)], maxPasses: 30);
        var after = resizes.ToDictionary(r => r.VmId, r => r.After);
        var a = after.GetValueOrDefault("a") ?? Vm("a", 1750).Memory;
        var b = after.GetValueOrDefault("b") ?? Vm("b", 2100).Memory;
        // 200 MB spare: b's demand needs 52 (a's none); of the 148 left, a's buffer wants 52 and b's the other 96.
        // Demand first: b a whole block (2176); then buffer: a the 52 MB part of a block (2100), b the last 20 (2196).
        Assert.Equal((2100, 2196), (a.AssignedMb, b.AssignedMb));
    }
}
