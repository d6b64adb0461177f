namespace HvOrleans;

/// <summary>
/// Reads one VM's backups from backup media (key: the VM id, so different VMs' backups are read at
/// the same time, on any silo, while one VM's are read one after another). Holds no state.
/// </summary>
[Alias("HvOrleans.IBackupMediaGrain")]
public interface IBackupMediaGrain : IGrainWithStringKey
{
    /// <summary>Re-reads the backup (and its parents) and compares the image's SHA-256 with the one recorded.</summary>
    [Alias("Verify")] Task<VerifyResult> Verify(string backupId);

    /// <summary>
    /// Restores into a new, stopped VM on the host and with the configuration the backup recorded; the
    /// image is verified first. Repeating it with the same <paramref name="operationId"/> returns the VM it made.
    /// </summary>
    [Alias("Restore")] Task<VmInfo> Restore(string backupId, string newVmId, string operationId);

    /// <summary>
    /// <see cref="Restore"/>, with the disks as written. A real VM's backup is restored by an agent: on
    /// <paramref name="hostId"/> if given, else on the host it was taken on; each chunk is checked against
    /// the recorded SHA-256 before the VM is created.
    /// </summary>
    [ResponseTimeout("00:10:00"), Alias("RestoreTo")] Task<RestoreReport> RestoreTo(string backupId, string newVmId, string operationId, string? hostId);
}
