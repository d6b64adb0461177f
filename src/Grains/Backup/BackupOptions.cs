using System.ComponentModel.DataAnnotations;

namespace HvOrleans.Grains;

/// <summary>Disks and backups (section <c>Hv:Backup</c>).</summary>
public sealed class BackupOptions
{
    /// <summary>Size of a VM's disk when it is first used.</summary>
    [Range(4, 1_048_576)]
    public int DiskSizeMb { get; set; } = 64;

    /// <summary>How long buffered guest writes wait before writeback (Linux: dirty_expire ~5-30 s).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan WritebackPeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A freeze not thawed by then thaws itself (Hyper-V's VSS: 10 s).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan FreezeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Blocks read and staged at once by one copy.</summary>
    [Range(1, 64)]
    public int CopyParallelism { get; set; } = 4;

    /// <summary>Rounds of <see cref="CopyParallelism"/> blocks copied between two persisted progress records.</summary>
    [Range(1, 1024)]
    public int BlocksPerProgress { get; set; } = 1;

    /// <summary>
    /// Attempts of one step that fails for a passing reason before the VM's backup fails (the waits
    /// between them double from 250 ms to 30 s: 12 attempts wait ~3 min in all).
    /// </summary>
    [Range(1, 100)]
    public int MaxStepAttempts { get; set; } = 12;

    /// <summary>Period of the reminder that brings an unfinished job back after a silo failure.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan ResumePeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>A pause before every step — for failure tests that must kill a silo in the middle of one. Zero in production.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan StepDelay { get; set; } = TimeSpan.Zero;
}
