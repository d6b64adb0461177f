namespace HvOrleans;

/// <summary>One backup job: freeze, checkpoint, thaw, snapshot, copy, cleanup for each VM, durably.</summary>
[Alias("HvOrleans.IBackupJobGrain")]
public interface IBackupJobGrain : IGrainWithStringKey
{
    /// <summary>Starts the job. Refused, changing nothing, for an empty or repeated VM list, an unknown VM, or a VM already being backed up.</summary>
    [Alias("Start")] Task<BackupJobInfo> Start(IReadOnlyList<string> vmIds, bool incremental);

    /// <summary>The job's progress. Refused (backup-job-must-exist) for an unknown job. Answers while the job works.</summary>
    [AlwaysInterleave, Alias("GetInfo")] Task<BackupJobInfo> GetInfo();

    /// <summary>
    /// Asks the job to stop at its next safe point (between steps, or between attempts of a failing
    /// one): VMs not yet done are thawed, merged and let go, their snapshots and staged blocks removed,
    /// and the job ends Cancelled. Backups already committed stay. Durable once answered; repeating it is harmless.
    /// </summary>
    [AlwaysInterleave, Alias("Cancel")] Task<BackupJobInfo> Cancel();
}
