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

    [Theory]
    [InlineData(4096, 245.76)]              // 6 % of the first 4 GB
    [InlineData(28672, 901.12)]             // + 4 % of 8 GB + 2 % of 16 GB: ~900 MB at 28 GB (quoted as 899 MB)
    [InlineData(131072, 901.12 + 1024)]     // + 1 % of the rest: 1,925 MB at 128 GB
    public void Esxi_min_free_is_vmwares_sliding_scale(long hostMb, double minFreeMb) =>
        Assert.Equal(minFreeMb, EsxiPolicy.MinFreeMb(hostMb), 6);

    [Fact]
    public void Esxi_grants_touched_pages_and_takes_nothing_back_while_memory_is_free()
    {
        // 'was-busy' touched 4,096 MB and now uses 1,000: ESXi keeps its pages (Hyper-V would balloon it);
        // 'growing' is given what it touches, no buffer.
        var desired = EsxiPolicy.Instance.DesiredAssignedMb(65536, [Vm("was-busy", 1000, assignedMb: 4096), Vm("growing", 5000)]);
        Assert.Equal((4096, 5000), (desired["was-busy"], desired["growing"]));
    }

    [Fact]
    public void Esxi_balloons_the_idlest_vm_first_once_free_memory_falls_below_the_soft_state()
    {
        // 4,900 MB, minFree 245.76 + 4 % of 804 = 277.92 MB (soft below 177.9); 4,800 held leaves 100 free: reclaim
        // 177.92 MB to get back to minFree. Idle pages cost 4× (τ = 0.75): 'idle' (200 of 2,400 active) has 5000 /
        // (2400 × (1/12 + 4 × 11/12)) = 0.56 shares per page against 'busy''s 1.85, so it gives all of it: 64 + 64 + 50 MB.
        var desired = EsxiPolicy.Instance.DesiredAssignedMb(4900, [Vm("idle", 200, assignedMb: 2400), Vm("busy", 2300, assignedMb: 2400)]);
        Assert.Equal((2222, 2400), (desired["idle"], desired["busy"]));
        // With 200 MB free (above the soft state) nothing is reclaimed.
        var calm = EsxiPolicy.Instance.DesiredAssignedMb(5000, [Vm("idle", 200, assignedMb: 2400), Vm("busy", 2300, assignedMb: 2400)]);
        Assert.Equal((2400, 2400), (calm["idle"], calm["busy"]));
    }

    [Fact]
    public void Mom_grows_every_guest_while_the_host_is_relaxed_5_percent_and_to_20_percent_of_its_maximum_free()
    {
        // balloon.rules' grow_guest: max(current × 1.05, used + 20 % of maximum), capped at maximum — idle or not.
        var desired = MomPolicy.Instance.DesiredAssignedMb(65536, [Vm("idle", 100), Vm("busy", 2000)]);
        Assert.Equal((2150, 3638), (desired["idle"], desired["busy"]));   // 2,048 × 1.05; 2,000 + 1,638.4
    }

    [Fact]
    public void Mom_shrinks_every_guest_under_host_pressure_at_most_5_percent_a_round()
    {
        // 4,800 MB, 4,096 held: 14.7 % free, under the 20 % threshold. shrink_guest: toward used + 14.7 % of current,
        // no faster than 5 % — 'idle' to 1,945.6; 'busy' (2,040 used) is already below its 2,340 and keeps 2,048.
        var desired = MomPolicy.Instance.DesiredAssignedMb(4800, [Vm("idle", 100), Vm("busy", 2040)]);
        Assert.Equal((1944, 2048), (desired["idle"], desired["busy"]));
    }

    [Fact]
    public void Mom_under_critical_pressure_balloons_a_guest_below_what_it_uses()
    {
        // 4,200 MB, 4,096 held: 2.5 % free, critical (≤ 5 %): guest free = 2.5 % − 5 %, so 'busy' is sent to
        // 2,040 − 2.5 % × 2,048 = 1,988 MB, below the 2,040 it uses: MoM makes it swap.
        Assert.Equal(1988, MomPolicy.Instance.DesiredAssignedMb(4200, [Vm("idle", 100), Vm("busy", 2040)])["busy"]);
    }

    [Fact]
    public void Mom_ignores_a_change_under_a_quarter_percent()
    {
        // Relaxed: 8,180 would grow to its maximum, 8,192 — 12 MB, under 0.25 % of 8,180.
        Assert.Equal(8180, MomPolicy.Instance.DesiredAssignedMb(65536, [Vm("a", 100, assignedMb: 8180)])["a"]);
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

    /// <summary>A VM holding <paramref name="assignedMb"/> of a <paramref name="totalMb"/> guest, with its history's figures.</summary>
    private static BalancingVm Seen(string id, int demandMb, int riseMb, int assignedMb = 2048, int totalMb = 8192) =>
        new(id, new VmConfig(2048, 512, 8192, 20), new VmMemory(true, assignedMb, totalMb, demandMb, true, riseMb));

    // Both hold what their guest's floor lets the balloon reach: the targets below are reachable as they are.
    private static readonly BalancingVm Steady = Seen("steady", 2000, 0, assignedMb: 2100, totalMb: 4096);
    private static readonly BalancingVm Jumpy = Seen("jumpy", 1000, 400, assignedMb: 1400, totalMb: 8192);

    [Fact]
    public void Predict_gives_a_steady_vm_little_beyond_demand_and_a_jumpy_one_room_for_its_jumps()
    {
        // No idle memory to spread (capacity 3,510 < 3,520, what even 1.05 rises would want): steady 2,000 + 5 %,
        // jumpy 1,000 + its recent largest rise of 400 — where Hyper-V's targets are 20 % of demand, 2,400 and 1,200.
        IBalancingPolicy predict = new PredictPolicy(mostRises: 8, keepFreePercent: 0);
        var desired = predict.DesiredAssignedMb(3510, [Steady, Jumpy]);
        Assert.Equal((2100, 1400), (desired["steady"], desired["jumpy"]));
    }

    [Fact]
    public void Predict_spreads_idle_memory_as_more_rises_but_keeps_the_free_share()
    {
        // Room 80 % of 10,000: jumpy gets 8 rises (1,000 + 3,200), steady still 5 %.
        IBalancingPolicy roomy = new PredictPolicy(mostRises: 8, keepFreePercent: 20);
        var desired = roomy.DesiredAssignedMb(10000, [Steady, Jumpy]);
        Assert.Equal((2100, 4200), (desired["steady"], desired["jumpy"]));
        // Keeping 70 % free leaves 3,000, less than any spreading wants: one rise.
        IBalancingPolicy frugal = new PredictPolicy(mostRises: 8, keepFreePercent: 70);
        Assert.Equal(1400, frugal.DesiredAssignedMb(10000, [Steady, Jumpy])["jumpy"]);
    }

    [Fact]
    public void Predict_hot_adds_no_further_than_hyperv_or_one_rise_and_spreads_by_unballooning()
    {
        // 1,000 MB of demand, rises of 400, on a roomy host: 64 rises want far past a 2,048 MB guest's total, but
        // hot-add goes no further than max(Hyper-V's 1,200, one rise's 1,400) — within the total: nothing to add.
        // A guest ballooned down from 8,192 unballoons to all of it.
        var small = BalancingPass.Run(PredictPolicy.Instance, 65536, [Seen("jumpy", 1000, 400, totalMb: 2048)]);
        Assert.Empty(small);
        var ballooned = BalancingPass.Run(PredictPolicy.Instance, 65536, [Seen("jumpy", 1000, 400, totalMb: 8192)]).Single().After;
        Assert.Equal((8192, 8192), (ballooned.AssignedMb, ballooned.HighWaterMb));
    }

    [Fact]
    public void Predict_hot_adds_a_guest_short_of_its_buffer_as_hyperv_would()
    {
        // 1,800 MB used of 2,048: short of Hyper-V's 20 % buffer (target 2,160). A real guest cannot show more demand
        // than it has and cannot online memory once starved, so it is grown now: toward 2,160 (one 128 MB block), not 64 rises.
        var full = BalancingPass.Run(PredictPolicy.Instance, 65536, [Seen("loading", 1800, 100, totalMb: 2048)]).Single().After;
        Assert.Equal((2048 + 128, 2048 + 128), (full.AssignedMb, full.HighWaterMb));
    }

    [Fact]
    public void Unknown_policy_is_refused_naming_the_known_ones()
    {
        var e = Assert.Throws<HvRuleException>(() => BalancingPolicies.ByName("best"));
        Assert.Equal("Unknown balancing policy 'best'; known: static, hyperv, squeezed, mom, proxmox, lean, esxi, predict.", e.Message);
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
