namespace HvOrleans.Grains;

/// <summary>Disks and backups. Bound from configuration section <c>Hv:Backup</c>.</summary>
public sealed class BackupOptions
{
    public const string Section = "Hv:Backup";

    /// <summary>Size of a VM's disk when it is first used.</summary>
    public int DiskSizeMb { get; set; } = 64;

    /// <summary>How long buffered guest writes wait before writeback (Linux: dirty_expire ~5-30 s).</summary>
    public TimeSpan WritebackPeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A freeze not thawed by then thaws itself (Hyper-V's VSS: 10 s).</summary>
    public TimeSpan FreezeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Blocks read and staged at once by one copy.</summary>
    public int CopyParallelism { get; set; } = 4;

    /// <summary>Rounds of <see cref="CopyParallelism"/> blocks copied between two persisted progress records.</summary>
    public int BlocksPerProgress { get; set; } = 1;

    /// <summary>Period of the reminder that brings an unfinished job back after a silo failure.</summary>
    public TimeSpan ResumePeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>A pause before every step — for failure tests that must kill a silo in the middle of one. Zero in production.</summary>
    public TimeSpan StepDelay { get; set; } = TimeSpan.Zero;
}
