using HvOrleans.Cli;
using HvOrleans.Connection;
using HvOrleans.Tools;
using Microsoft.Extensions.DependencyInjection;

// Drills measure failures themselves: a failed call is data, not something to retry behind the operator's back.
return await ConsoleProgram.RunAsync("hv-drill", Console.Error, async () =>
{
    var output = Console.Out;
    var line = new CommandLine(args);
    if (line.Words is ["audit", "check", var directory])
    {
        line.RejectUnknownOptions();
        var audit = StateAuditCheck.Run(directory);
        output.WriteLine($"{audit.Writes} audited writes of {audit.Grains} grains ({audit.HostStates} host states checked, {audit.Conflicts} ETag conflicts refused): {audit.Violations.Count} violation(s)");
        foreach (var v in audit.Violations) output.WriteLine($"  VIOLATION {v}");
        return audit.Violations.Count == 0 ? ExitCodes.Ok : ExitCodes.Refused;
    }
    Func<IGrainFactory, ClusterConnectionOptions, Task<bool>> drill = (line.Words.ElementAtOrDefault(0), line.Words.ElementAtOrDefault(1)) switch
    {
        ("chaos", "run") => ChaosWorkload.Command(line, output, Console.Error),
        ("cluster", "failover") => FailoverProbe.Command(line, output, Console.Error),
        ("backup", "bench") => BackupBench.Command(line, output, Console.Error),
        ("guest", "bench") => GuestBench.Command(line, output, Console.Error),
        ("guest", "backup-bench") => GuestBackupBench.Command(line, output, Console.Error),
        _ => throw new UsageException($"Unknown drill '{string.Join(' ', line.Words.Take(2))}'."),
    };
    line.RejectUnknownOptions();
    var options = ClusterConnection.Load();
    using var host = await ClusterConnection.ConnectAsync(options, CancellationToken.None);
    return await drill(host.Services.GetRequiredService<IClusterClient>(), options) ? ExitCodes.Ok : ExitCodes.Refused;
}, usageHint: Program.Usage);

public static partial class Program
{
    public const string Usage = """
          hv chaos run [--minutes M] [--seed S] [--audit DIR] [--json]  the chaos workload (infra/chaos.sh runs it beside its nemesis)
          hv cluster failover [--kills K] [--seed S] [--double-after-ms D] [--pause-storage-ms P] [--json]
                                  SIGKILL random silos of the local cluster, time failover (D: a second kill D ms after
                                  the first silo's restart began, while it joins; P: Azurite SIGSTOPped for P ms from the kill on)
          hv backup bench [--vms 20] [--rounds 2] [--json]   HvOrleans vs a plain SDK copy of the same disks
          hv guest bench --host H [--steps 20] [--json]     real-guest latencies on an agent's host: boot, hot-add, balloon
          hv guest backup-bench --host H [--backups 20] [--data-mb 200] [--disk-gb 4] [--run-dir DIR] [--json]
                                  real-guest live backups: freeze windows under continuous writes, and a full backup's copy
                                  against qemu-img convert + a parallel SDK upload of the same data
          hv-drill audit check <dir>                        check a state audit (Hv:AuditDirectory) after a run
        """;
}
