namespace HvOrleans;

/// <summary>
/// A host's <c>hv-agent</c>, as the cluster calls it back (an observer: the agent is a client, not a
/// grain). It passes its reference with every sync, so a host grain that moved silos knows it again
/// within a second.
/// </summary>
[Alias("HvOrleans.IHostAgent")]
public interface IHostAgent : IGrainObserver
{
    /// <summary>Runs <paramref name="argv"/> in the VM's guest through its guest agent, within <paramref name="timeout"/>.</summary>
    [ResponseTimeout("00:00:30"), Alias("Exec")] Task<GuestExecResult> Exec(string vmId, IReadOnlyList<string> argv, TimeSpan timeout);

    // A live backup's steps on a real guest (issued by the backup job; each is idempotent for the same job).

    /// <summary>Freeze, one QMP transaction (point-in-time copy of every disk + change tracking), thaw. A repeat returns the first capture.</summary>
    [ResponseTimeout("00:00:45"), Alias("Capture")] Task<GuestCapture> Capture(string vmId, GuestCaptureRequest request);

    /// <summary>Whether the point-in-time copies are made; once they are, their allocated extents, mapped.</summary>
    [Alias("PointInTime")] Task<PointInTime> PointInTime(string vmId, string jobId);

    /// <summary>Uploads chunks of a disk's data as staged blocks; returns the bytes uploaded.</summary>
    [ResponseTimeout("00:02:00"), Alias("Upload")] Task<long> Upload(string vmId, ChunkUpload upload);

    /// <summary>Commits a disk's staged blocks and writes its manifest.</summary>
    [ResponseTimeout("00:01:00"), Alias("Commit")] Task<DiskBackup> Commit(string vmId, DiskCommit commit);

    /// <summary>
    /// Ends the job on the guest: thawed if still frozen, temporary nodes and files removed. Committed:
    /// the parent's change tracking is dropped (this job's carries on); otherwise this job's is merged
    /// back into the parent's, so the next incremental still holds every change since the last committed backup.
    /// </summary>
    [Alias("Release")] Task Release(string vmId, string jobId, string? parentBitmap, bool committed);

    /// <summary>Writes a new VM's disks from backup layers (each chunk checked against its manifest's SHA-256) before the VM exists.</summary>
    [ResponseTimeout("00:10:00"), Alias("Restore")] Task<IReadOnlyList<RestoredDisk>> Restore(string newVmId, IReadOnlyList<DiskRestore> disks);

    /// <summary>Removes a VM's run folder and disks (a scratch VM of a boot verification); refused while its guest runs.</summary>
    [Alias("RemoveVm")] Task RemoveVm(string vmId);
}
