namespace HvOrleans.Backup;

[GenerateSerializer, Alias("HvOrleans.BackupStep")]
public enum BackupStep { Pending, Freeze, Checkpoint, Thaw, Snapshot, Copy, Cleanup, Done, Failed }

[GenerateSerializer, Alias("HvOrleans.Consistency")]
public enum Consistency
{
    /// <summary>The guest agent flushed and froze the file systems: what the guest had written is in the backup.</summary>
    FileSystem,
    /// <summary>No guest agent (or its freeze ran out): the disk as a power cut would leave it.</summary>
    Crash,
    /// <summary>The VM was off: its guest flushed its buffers when it shut down, and nothing wrote since.</summary>
    Offline,
}

[GenerateSerializer, Alias("HvOrleans.JobState")]
public enum JobState
{
    Running,
    Completed,
    Failed,
    /// <summary>Saved, its VMs not all taken yet: a silo that dies now leaves a job that finishes starting, or fails, when it comes back.</summary>
    Starting,
    /// <summary>Stopped at a safe point by the operator; everything it held was let go.</summary>
    Cancelled,
}

/// <summary>
/// How a backup step that failed for a passing reason (storage or a silo briefly away) is tried
/// again: after a delay that doubles from 250 ms up to 30 s, at most a bounded number of times; then
/// the VM's backup fails, so that a job never holds its VMs for ever.
/// </summary>
public static class StepRetry
{
    public static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(250), LongestDelay = TimeSpan.FromSeconds(30);

    /// <summary>The wait before attempt <paramref name="failedAttempts"/> + 1.</summary>
    public static TimeSpan Delay(int failedAttempts) =>
        TimeSpan.FromTicks(Math.Min(LongestDelay.Ticks, FirstDelay.Ticks << Math.Clamp(failedAttempts - 1, 0, 20)));

    public static bool GivesUp(int failedAttempts, int maxAttempts) => failedAttempts >= maxAttempts;

    /// <summary>The time all the waits add up to before giving up: what an operator waits at most for a stuck step.</summary>
    public static TimeSpan Patience(int maxAttempts) =>
        TimeSpan.FromTicks(Enumerable.Range(1, Math.Max(0, maxAttempts - 1)).Sum(a => Delay(a).Ticks));
}

/// <summary>The order of a VM's backup steps. Every step is persisted before the next starts.</summary>
public static class BackupSteps
{
    public static BackupStep Next(BackupStep step) => step switch
    {
        BackupStep.Pending => BackupStep.Freeze,
        BackupStep.Freeze => BackupStep.Checkpoint,
        BackupStep.Checkpoint => BackupStep.Thaw,
        BackupStep.Thaw => BackupStep.Snapshot,
        BackupStep.Snapshot => BackupStep.Copy,
        BackupStep.Copy => BackupStep.Cleanup,
        BackupStep.Cleanup => BackupStep.Done,
        _ => step,
    };

    public static bool Finished(BackupStep step) => step is BackupStep.Done or BackupStep.Failed;

    public static bool Finished(JobState state) => state is JobState.Completed or JobState.Failed or JobState.Cancelled;

    /// <summary>The unit of copying and of change tracking.</summary>
    public const int BlockBytes = 4 * 1024 * 1024;

    public static int BlockCount(long diskBytes) => (int)((diskBytes + BlockBytes - 1) / BlockBytes);

    /// <summary>A block's length: the last block of a disk may be short.</summary>
    public static int BlockLength(int block, long diskBytes) => (int)Math.Min(BlockBytes, diskBytes - (long)block * BlockBytes);

    /// <summary>The step a VM is in, given the last one it completed.</summary>
    public static BackupStep InProgress(BackupStep completed) => Finished(completed) ? completed : Next(completed);

    /// <summary>A block's id on backup media: the same for every attempt, so a re-staged block replaces itself.</summary>
    public static string BlockId(int index) => Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes($"blk-{index:D8}"));
}
