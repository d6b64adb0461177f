using HvOrleans.Tools;
using HvOrleans.Diagnostics;
using HvOrleans.Grains.Storage;

namespace HvOrleans.Tests.Client;

/// <summary>The chaos checker's reading of the silos' state audit, on audits written by the silo's own log class.</summary>
public sealed class StateAuditCheckTests
{
    private static HvOrleans.Grains.HostState Host(int memoryMb, params (string Id, int AssignedMb, int HighWaterMb)[] vms) => new(memoryMb, 1024,
        HvOrleans.Grains.HostedVms.Of(vms.Select(v => KeyValuePair.Create(v.Id, new HvOrleans.Grains.HostedVm(new VmConfig(1024, 512, 8192),
            VmMemory.Stopped with { Running = true, AssignedMb = v.AssignedMb, HighWaterMb = v.HighWaterMb })))));

    private static StateAuditCheck.Result Check(Action<StateAuditLog> write)
    {
        string dir = Directory.CreateTempSubdirectory("hv-audit-").FullName;
        using (var log = new StateAuditLog(dir)) write(log);
        return StateAuditCheck.Run(dir);
    }

    private static void Stored(StateAuditLog log, string grain, string? before, string after, HvOrleans.Grains.HostState state)
    {
        long id = log.Record(new StateAuditLine(StateAuditLine.Intent, grain, before, null, StateAuditLog.Describe(state)));
        log.Record(new StateAuditLine(StateAuditLine.Stored, grain, before, after, null, id));
    }

    [Fact]
    public void A_clean_history_has_no_violations_and_counts_refused_writes()
    {
        var result = Check(log =>
        {
            Stored(log, "host/h1", null, "e1", Host(8192, ("a", 2048, 2048)));
            long refused = log.Record(new StateAuditLine(StateAuditLine.Intent, "host/h1", "e0", null, StateAuditLog.Describe(Host(8192, ("a", 3072, 3072)))));
            log.Record(new StateAuditLine(StateAuditLine.Conflict, "host/h1", "e0", null, null, refused));
            Stored(log, "host/h1", "e1", "e2", Host(8192, ("a", 3072, 3072)));
        });
        Assert.Empty(result.Violations);
        Assert.Equal((3, 2, 1, 1), (result.Writes, result.Stored, result.Conflicts, result.Grains));
    }

    [Fact]
    public void Two_writes_stored_over_one_ETag_are_a_lost_update()
    {
        var result = Check(log =>
        {
            Stored(log, "host/h1", null, "e1", Host(8192, ("a", 2048, 2048)));
            Stored(log, "host/h1", "e1", "e2", Host(8192, ("a", 2048, 2048)));
            Stored(log, "host/h1", "e1", "e3", Host(8192, ("a", 2048, 2048)));
        });
        Assert.Contains("lost update", Assert.Single(result.Violations));
    }

    [Fact]
    public void An_over_committed_host_or_a_shrinking_guest_in_any_stored_state_is_a_violation()
    {
        var result = Check(log =>
        {
            Stored(log, "host/h1", null, "e1", Host(4096, ("a", 2048, 4096), ("b", 2048, 2048)));   // 4096 of 3072 MB
            Stored(log, "host/h1", "e1", "e2", Host(8192, ("a", 2048, 3072), ("b", 2048, 2048)));   // a's guest shrank
        });
        Assert.Equal(2, result.Violations.Count);
        Assert.Contains(result.Violations, v => v.Contains("assigns 4096 MB of 3072 MB"));
        Assert.Contains(result.Violations, v => v.Contains("VM a guest total shrank"));
    }
}
