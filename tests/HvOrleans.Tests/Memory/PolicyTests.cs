namespace HvOrleans.Tests.Memory;

public class PolicyTests
{
    private static BalancingVm Vm(string id, int demandMb, int assignedMb = 2048, int weight = 5000) =>
        new(id, new VmConfig(2048, 512, 8192, 20, weight), new VmMemory(true, assignedMb, Math.Max(assignedMb, 2048), demandMb, true));

    [Fact]
    public void Squeezed_gives_every_vm_the_same_share_of_its_dynamic_range()
    {
        // Σ min 1024, Σ range 15360; capacity 8704 → γ = 0.5.
        var desired = SqueezedPolicy.Instance.DesiredAssignedMb(8704, [Vm("a", 100), Vm("b", 7000)]);
        Assert.Equal(512 + 3840, desired["a"]);
        Assert.Equal(512 + 3840, desired["b"]);
    }

    [Fact]
    public void Proxmox_moves_at_most_100_mb_per_vm_per_round()
    {
        // 80 % of 65,536 MB is far above the 4,096 used: a grow request; neither guest is under pressure
        // (free far above ¼ of Minimum), so after the pressured list (empty) takes nothing, all share it.
        var desired = ProxmoxPolicy.Instance.DesiredAssignedMb(65536, [Vm("a", 100), Vm("b", 100)]);
        Assert.Equal(2148, desired["a"]);
        Assert.Equal(2148, desired["b"]);
    }

    [Fact]
    public void Proxmox_grows_the_guests_under_memory_pressure_first()
    {
        // compute_alg1: a grow request goes to the VMs whose free memory is at most ¼ of their minimum;
        // only if they took none of it does it go to all. 'busy' has no free memory, 'idle' plenty.
        var desired = ProxmoxPolicy.Instance.DesiredAssignedMb(10000, [Vm("busy", 2040), Vm("idle", 500)]);
        Assert.Equal((2148, 2048), (desired["busy"], desired["idle"]));
    }

    [Fact]
    public void Proxmox_shrinks_the_guests_with_free_memory_first_toward_their_share()
    {
        // 80 % of 4,500 = 3,600 against 4,096 used: shrink by 496 MB. The VMs with enough free memory go first:
        // only 'idle'; its share is Minimum + (2,048 − 512 − 496) = 1,552, reached 100 MB a round.
        var desired = ProxmoxPolicy.Instance.DesiredAssignedMb(4500, [Vm("busy", 2040), Vm("idle", 500)]);
        Assert.Equal((2048, 1948), (desired["busy"], desired["idle"]));
    }

    [Fact]
    public void Proxmox_shares_a_request_by_shares_and_leaves_shares_zero_alone()
    {
        // Two pressured guests, weights 3:1, and one with shares 0. The grow request (8,000 − 6,144) is
        // shared as Minimum + shares/Σshares × (Σ(balloon − Minimum) + goal): 'heavy' 512 + ¾ × 4,928 = 4,208,
        // 'light' 512 + ¼ × 4,928 = 1,744 — below what it holds, so it shrinks toward it; each 100 MB at most.
        var desired = ProxmoxPolicy.Instance.DesiredAssignedMb(10000,
            [Vm("heavy", 2040, weight: 7500), Vm("light", 2040, weight: 2500), Vm("off", 2040, weight: 0)]);
        Assert.Equal((2148, 1948, 2048), (desired["heavy"], desired["light"], desired["off"]));
    }

    [Fact]
    public void Mom_grows_a_guest_with_under_20_percent_free_by_5_percent()
    {
        Assert.Equal(2150, MomPolicy.Instance.DesiredAssignedMb(65536, [Vm("a", 2000)])["a"]);
    }

    [Fact]
    public void Mom_ignores_a_change_under_a_quarter_percent()
    {
        Assert.Equal(2048, MomPolicy.Instance.DesiredAssignedMb(2100, [Vm("a", 1636)])["a"]);
    }

    [Fact]
    public void Static_keeps_what_every_vm_has()
    {
        Assert.Equal(2048, StaticPolicy.Instance.DesiredAssignedMb(65536, [Vm("a", 7000)])["a"]);
    }

    [Fact]
    public void Lean_hot_adds_for_demand_but_not_for_buffer()
    {
        var vm = Vm("a", 5000);
        var lean = BalancingPass.Run(LeanPolicy.Instance, 65536, [vm]).Single().After;
        var hyperv = BalancingPass.Run(HyperVPolicy.Instance, 65536, [vm]).Single().After;
        Assert.Equal(2048 + 24 * 128, lean.HighWaterMb);     // 5000 MB of demand: 24 blocks
        Assert.Equal(2048 + 31 * 128, hyperv.HighWaterMb);   // 6000 MB of target: 31 blocks
    }

    [Fact]
    public void Lean_covers_the_buffer_by_unballooning()
    {
        var vm = new BalancingVm("a", new VmConfig(2048, 512, 8192), new VmMemory(true, 4000, 8000, 5000, true));
        Assert.Equal(6000, BalancingPass.Run(LeanPolicy.Instance, 65536, [vm]).Single().After.AssignedMb);
    }

    [Fact]
    public void Unknown_policy_is_refused_naming_the_known_ones()
    {
        var e = Assert.Throws<HvRuleException>(() => BalancingPolicies.ByName("best"));
        Assert.Equal("Unknown balancing policy 'best'; known: static, hyperv, squeezed, mom, proxmox, lean.", e.Message);
    }

    [Fact]
    public void Boot_in_turn_balloons_running_vms_to_make_room_and_refuses_what_cannot_fit()
    {
        var config = new VmConfig(2048, 512, 8192);
        var booted = BalancingPass.BootInTurn(3072, [], [new VmPlacement("a", config, 100), new VmPlacement("b", config, 100)]);
        Assert.Equal(2048, booted.Single(v => v.VmId == "b").Memory.AssignedMb);
        Assert.True(booted.Sum(v => v.Memory.AssignedMb) <= 3072);
        Assert.Equal("host-capacity", Assert.Throws<HvRuleException>(() =>
            BalancingPass.BootInTurn(2560, [], [new VmPlacement("a", config, 1800), new VmPlacement("b", config, 1800)])).Rule);
    }
}
