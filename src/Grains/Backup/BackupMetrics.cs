using System.Diagnostics.Metrics;

namespace HvOrleans.Grains;

/// <summary>What an operator graphs about backups. Meter name: <c>HvOrleans.Backup</c>.</summary>
internal static class BackupMetrics
{
    private static readonly Meter Meter = new("HvOrleans.Backup");
    private static readonly Counter<long> Copied = Meter.CreateCounter<long>("hv.backup.copied", "By", "Bytes written to backup media");
    private static readonly Histogram<double> FreezeWindow = Meter.CreateHistogram<double>("hv.backup.freeze.window", "ms",
        "How long a VM's file systems were frozen for a backup");
    private static readonly Counter<long> Jobs = Meter.CreateCounter<long>("hv.backup.jobs", description: "Backup jobs ended, by state");

    /// <summary>What one step of one VM's backup did: its freeze window once known, the bytes it copied.</summary>
    public static void RecordStep(BackupVmProgress before, BackupVmProgress after)
    {
        if (before.FreezeWindowMs is null && after.FreezeWindowMs is { } windowMs)
            FreezeWindow.Record(windowMs, new KeyValuePair<string, object?>("guest", after.Real ? "real" : "modelled"));
        if (after.BytesCopied > before.BytesCopied) Copied.Add(after.BytesCopied - before.BytesCopied);
    }

    public static void RecordJob(JobState end) => Jobs.Add(1, new KeyValuePair<string, object?>("state", end.ToString()));
}
