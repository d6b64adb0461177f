using System.Collections.Immutable;
using HvOrleans.Backup;

namespace HvOrleans.Grains;

[GenerateSerializer, Alias("HvOrleans.BackupJobState")]
public sealed record class BackupJobState(
    [property: Id(0)] bool Incremental,
    [property: Id(1)] JobState State,
    [property: Id(2)] ImmutableList<BackupVmProgress> Vms)
{
    public BackupJobState() : this(false, JobState.Running, []) { }

    public bool Exists => !Vms.IsEmpty;
}

/// <summary>The operator's cancel, stored apart from the job's progress: it is written while the job works.</summary>
[GenerateSerializer, Alias("HvOrleans.BackupCancelState")]
public sealed record class BackupCancelState([property: Id(0)] bool Requested = false);
