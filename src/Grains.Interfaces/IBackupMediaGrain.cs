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
}
