namespace HvOrleans.Tests.Memory;

public class DemandRiseTests
{
    [Fact]
    public void The_rise_keeps_the_largest_recent_jump_and_forgets_a_sixteenth_a_report()
    {
        var slot = VmSlot.Of(new VmConfig(2048, 512, 8192), VmMemory.Boot(new VmConfig(2048, 512, 8192)));
        slot.ReportDemand(1000);
        Assert.Equal(0, slot.RiseMb);                    // the first report has nothing to rise from
        slot.ReportDemand(1320);
        Assert.Equal(320, slot.RiseMb);                  // +320
        slot.ReportDemand(1200);
        Assert.Equal(300, slot.RiseMb);                  // a fall: 320 − ⌈320/16⌉ = 300
        slot.ReportDemand(1300);
        Assert.Equal(281, slot.RiseMb);                  // +100 < 300 − ⌈300/16⌉ = 281
        slot.ReportDemand(1700);
        Assert.Equal(400, slot.RiseMb);                  // +400 beats what is left
    }

    [Fact]
    public void A_small_figure_decays_to_nothing_rather_than_lingering()
    {
        int riseMb = 15;
        for (int i = 0; i < 15; i++) riseMb = DemandRise.NextRiseMb(true, 100, 100, riseMb);
        Assert.Equal(0, riseMb);                         // ⌈15/16⌉ = 1 MB a report
    }

    [Fact]
    public void The_record_and_the_slot_agree_report_by_report()
    {
        var config = new VmConfig(2048, 512, 8192);
        var memory = VmMemory.Boot(config);
        var slot = VmSlot.Of(config, memory);
        foreach (int demandMb in new[] { 900, 1500, 700, 2100, 2000, 400 })
        {
            memory = memory.WithDemand(demandMb);
            slot.ReportDemand(demandMb);
            Assert.Equal(memory, slot.ToMemory());
        }
        Assert.Equal(1230, memory.RiseMb);   // +1400 (700 → 2100), less ⌈1400/16⌉ = 88, then ⌈1312/16⌉ = 82
    }

    [Fact]
    public void A_restart_starts_the_history_afresh()
    {
        var config = new VmConfig(2048, 512, 8192);
        var memory = VmMemory.Boot(config).WithDemand(500).WithDemand(1500);
        Assert.Equal(1000, memory.RiseMb);
        Assert.Equal(0, VmMemory.Boot(config).RiseMb);
    }
}
