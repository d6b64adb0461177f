namespace HvOrleans;

/// <summary>
/// One VM's finished backups (key: the VM id; chains are per VM). It only records and answers:
/// reading backup media — verify, restore — is <see cref="IBackupMediaGrain"/>'s work, so a long read
/// never holds the catalog.
/// </summary>
[Alias("HvOrleans.IBackupCatalogGrain")]
public interface IBackupCatalogGrain : IGrainWithStringKey
{
    /// <summary>Records a backup. Recording the same backup again is a no-op.</summary>
    [Alias("Add")] Task Add(BackupRecord record);

    /// <summary>Refused (backup-must-exist) for a backup this VM does not have.</summary>
    [Alias("Get")] Task<BackupRecord> Get(string backupId);

    /// <summary>Oldest first.</summary>
    [Alias("List")] Task<IReadOnlyList<BackupRecord>> List();

    [Alias("Latest")] Task<BackupRecord?> Latest();

    /// <summary>The backup and its parents, oldest (a full backup) first: what a restore applies.</summary>
    [Alias("Chain")] Task<IReadOnlyList<BackupRecord>> Chain(string backupId);
}
