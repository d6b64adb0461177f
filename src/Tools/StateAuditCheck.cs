using HvOrleans.Diagnostics;

namespace HvOrleans.Tools;

/// <summary>
/// Reads the silos' state audit (<c>Hv:AuditDirectory</c>, written by <c>AuditedGrainStorage</c>) and
/// checks every state that was, or may have been, persisted — not only the last one:
/// <list type="bullet">
/// <item>a host never assigns more than its memory minus its reserve;</item>
/// <item>a running VM holds between its Minimum and Maximum;</item>
/// <item>a VM's guest total never shrinks while it keeps running;</item>
/// <item>no two writes of one grain were stored from the same ETag (a duplicate activation's write
/// accepted over a newer one would be exactly that); refused writes are counted.</item>
/// </list>
/// A write whose result line is missing (its silo was SIGKILLed mid-write) counts as maybe stored.
/// <c>Write.Outcome</c>: stored, conflict (refused on its ETag), failed, or null (unknown).
/// </summary>
public static class StateAuditCheck
{
    public sealed record Result(int Writes, int Stored, int Conflicts, int HostStates, int Grains, List<string> Violations);

    private sealed record Write(string File, long Id, string Grain, string? ETagBefore, DateTimeOffset At, AuditedHost? State)
    {
        public string? Outcome { get; set; }
    }

    public static Result Run(string directory)
    {
        var writes = new List<Write>();
        foreach (var file in Directory.GetFiles(directory, "audit-*.jsonl"))
        {
            var byId = new Dictionary<long, Write>();
            using var reader = new StreamReader(new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            var lines = reader.ReadToEnd().Split('\n');
            // The silos are still running: the last line may be half written (and an unended one is skipped).
            foreach (var text in lines.Take(lines.Length - 1))
            {
                if (text.Length == 0) continue;
                var line = StateAuditLine.Parse(text);
                if (line.Kind == StateAuditLine.Intent)
                {
                    var write = new Write(file, line.Sequence, line.Grain, line.ETagBefore, line.At, line.Host);
                    byId[line.Sequence] = write;
                    writes.Add(write);
                }
                else
                    byId[line.Write].Outcome = line.Kind;
            }
        }

        var violations = new List<string>();
        // Every state that may have been persisted obeys the ledger rules; the order of guest totals is
        // judged on the stored ones (an unfinished write may not have been, and the next one starts from before it).
        foreach (var w in writes.Where(w => w.State is not null && w.Outcome is StateAuditLine.Stored or null))
            CheckHost(w, violations);
        foreach (var grain in writes.Where(w => w.State is not null && w.Outcome == StateAuditLine.Stored).GroupBy(w => w.Grain))
            CheckGuestTotals(grain.OrderBy(w => w.At).ToList(), violations);
        foreach (var grain in writes.Where(w => w.Outcome == StateAuditLine.Stored && w.ETagBefore is not null).GroupBy(w => (w.Grain, w.ETagBefore)))
            if (grain.Count() > 1)
                violations.Add($"{grain.Key.Grain}: {grain.Count()} writes stored over the same ETag {grain.Key.ETagBefore} (a lost update)");

        return new Result(writes.Count, writes.Count(w => w.Outcome == StateAuditLine.Stored), writes.Count(w => w.Outcome == StateAuditLine.Conflict),
            writes.Count(w => w.State is not null), writes.Select(w => w.Grain).Distinct().Count(), violations);
    }

    private static void CheckHost(Write w, List<string> violations)
    {
        var host = w.State!;
        int capacityMb = host.MemoryMb - host.ReserveMb;
        long assignedMb = 0;
        foreach (var vm in host.Vms)
        {
            assignedMb += vm.AssignedMb;
            if (vm.Running && (vm.AssignedMb < vm.MinimumMb || vm.AssignedMb > vm.MaximumMb))
                violations.Add($"{w.Grain} at {w.At:HH:mm:ss.fff}: VM {vm.Id} assigned {vm.AssignedMb} MB outside its limits");
        }
        if (assignedMb > capacityMb)
            violations.Add($"{w.Grain} at {w.At:HH:mm:ss.fff}: assigns {assignedMb} MB of {capacityMb} MB");
    }

    private static void CheckGuestTotals(List<Write> states, List<string> violations)
    {
        var last = new Dictionary<string, int>();
        foreach (var w in states)
            foreach (var vm in w.State!.Vms)
            {
                if (!vm.Running) { last.Remove(vm.Id); continue; }   // a restart may shrink it
                if (last.TryGetValue(vm.Id, out int before) && vm.GuestTotalMb < before)
                    violations.Add($"{w.Grain} at {w.At:HH:mm:ss.fff}: VM {vm.Id} guest total shrank from {before} to {vm.GuestTotalMb} MB while running");
                last[vm.Id] = vm.GuestTotalMb;
            }
    }
}
