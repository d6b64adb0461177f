using CsCheck;

namespace HvOrleans.Tests.Memory;

/// <summary>Random hosts, fleets and demand sequences; the invariants are checked after every pass.</summary>
public class BalancingPropertyTests
{
    private const int MaxVms = 10;

    private static readonly Gen<VmConfig> GenConfig =
        from minPages in Gen.Int[16, 1024]
        from startupExtraPages in Gen.Int[0, 1024]
        from maximumExtraPages in Gen.Int[0, 4096]
        from buffer in Gen.Int[5, 300]
        from weight in Gen.Int[0, 10_000]
        select new VmConfig(2 * (minPages + startupExtraPages), 2 * minPages,
            2 * (minPages + startupExtraPages + maximumExtraPages), buffer, weight);

    private static readonly Gen<(int CapacityMb, VmConfig[] Configs, int[][] Demands)> GenHost =
        from capacityPages in Gen.Int[2048, 32_768]
        from configs in GenConfig.Array[1, MaxVms]
        from demands in Gen.Int[0, 12_000].Array[MaxVms].Array[1, 25]
        select (2 * capacityPages, configs, demands);

    [Fact]
    public void Every_pass_keeps_the_ledger_within_capacity_and_every_vm_within_its_limits()
    {
        GenHost.Sample(h =>
        {
            var vms = BootWhatFits(h.CapacityMb, h.Configs);
            foreach (var step in h.Demands)
            {
                var before = vms.ToArray();
                vms = Step(h.CapacityMb, vms, step);
                Assert.True(vms.Where(v => v.Memory.Running).Sum(v => (long)v.Memory.AssignedMb) <= h.CapacityMb);
                for (int i = 0; i < vms.Length; i++)
                {
                    var (config, m, was) = (vms[i].Config, vms[i].Memory, before[i].Memory);
                    if (!m.Running) continue;
                    Assert.InRange(m.AssignedMb, config.MinimumMb, config.MaximumMb);
                    Assert.InRange(m.HighWaterMb, m.AssignedMb, config.MaximumMb);
                    Assert.True(m.HighWaterMb >= was.HighWaterMb, "the guest's total shrank while it ran");
                    Assert.True(m.HighWaterMb == was.HighWaterMb || was.BalloonedMb == 0 || m.BalloonedMb == 0,
                        "hot-added while memory was still ballooned");
                    Assert.Equal(0, m.AssignedMb % VmConfig.PageMb);
                }
            }
        }, iter: 1000);
    }

    [Fact]
    public void Higher_weight_vms_are_short_of_demand_last()
    {
        // Identical VMs with identical demand differ only in weight. When a heavier VM is short of its
        // demand, a lighter one may hold its demand only with memory the guest would not balloon (its
        // floor) plus no more than its weight's share of what was handed out (plus one hot-add block).
        var gen = from count in Gen.Int[2, 8]
                  from weights in Gen.Int[0, 10_000].Array[count]
                  from capacityPages in Gen.Int[2048, 16_384]
                  from demands in Gen.Int[0, 8000].Array[1, 20]
                  select (weights, capacityMb: 2 * capacityPages, demands);
        gen.Sample(t =>
        {
            var configs = t.weights.Select(w => new VmConfig(1024, 512, 8192, 20, w)).ToArray();
            var vms = BootWhatFits(t.capacityMb, configs);
            foreach (int demandMb in t.demands)
            {
                var reported = Report(vms, Enumerable.Repeat(demandMb, vms.Length).ToArray());
                vms = Pass(t.capacityMb, reported);
                var floorMb = reported.ToDictionary(v => v.VmId, v => v.Memory.LowestReachableMb(v.Config));
                long Grant(BalancingVm v) => v.Memory.AssignedMb - floorMb[v.VmId];
                bool Short(BalancingVm v) => v.Memory.AssignedMb < v.Memory.DemandLevelMb(v.Config);
                var running = vms.Where(v => v.Memory.Running).ToArray();
                foreach (var heavy in running.Where(Short))
                foreach (var light in running.Where(v => v.Config.Weight < heavy.Config.Weight && !Short(v)))
                    Assert.True((Grant(light) - VmMemory.HotAddBlockMb) * heavy.Config.Weight <= Grant(heavy) * light.Config.Weight,
                        $"{heavy.VmId} (weight {heavy.Config.Weight}) is short at {heavy.Memory.AssignedMb} MB with {Grant(heavy)} MB granted, " +
                        $"but {light.VmId} (weight {light.Config.Weight}) has its demand with {Grant(light)} MB granted");
            }
        }, iter: 1000);
    }

    private static BalancingVm[] BootWhatFits(int capacityMb, VmConfig[] configs)
    {
        long usedMb = 0;
        return configs.Select((c, i) =>
        {
            bool fits = usedMb + c.StartupMb <= capacityMb;
            if (fits) usedMb += c.StartupMb;
            return new BalancingVm($"vm{i}", c, fits ? VmMemory.Boot(c) : VmMemory.Stopped);
        }).ToArray();
    }

    private static BalancingVm[] Step(int capacityMb, BalancingVm[] vms, int[] demandsMb) =>
        Pass(capacityMb, Report(vms, demandsMb));

    private static BalancingVm[] Report(BalancingVm[] vms, int[] demandsMb) =>
        vms.Select((v, i) => v.Memory.Running ? v with { Memory = v.Memory.WithDemand(demandsMb[i]) } : v).ToArray();

    private static BalancingVm[] Pass(int capacityMb, BalancingVm[] vms)
    {
        var resized = BalancingPass.Run(HyperVPolicy.Instance, capacityMb, vms).ToDictionary(r => r.VmId, r => r.After);
        return vms.Select(v => resized.TryGetValue(v.VmId, out var after) ? v with { Memory = after } : v).ToArray();
    }
}
