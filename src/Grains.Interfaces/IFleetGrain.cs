namespace HvOrleans;

/// <summary>
/// The fleet's directory (one, key 0): which hosts exist and which backup jobs ran lately, so the
/// fleet page and the HTTP API can list them. Hosts register when added; jobs when started.
/// </summary>
[Alias("HvOrleans.IFleetGrain")]
public interface IFleetGrain : IGrainWithIntegerKey
{
    /// <summary>Idempotent. Registrations arriving together share one write.</summary>
    [Alias("RegisterHost")] Task RegisterHost(string hostId);

    /// <summary>Every registered host, in id order.</summary>
    [AlwaysInterleave, Alias("Hosts")] Task<IReadOnlyList<string>> Hosts();

    /// <summary>Remembers a started job among the most recent <see cref="FleetDirectory.RecentJobs"/>.</summary>
    [Alias("BackupStarted")] Task BackupStarted(string jobId);

    /// <summary>The most recently started backup jobs, newest first.</summary>
    [AlwaysInterleave, Alias("RecentBackupJobs")] Task<IReadOnlyList<string>> RecentBackupJobs();
}

/// <summary>The directory's persistent state.</summary>
[GenerateSerializer, Alias("HvOrleans.FleetDirectory")]
public sealed class FleetDirectory
{
    public const int RecentJobs = 50;

    [Id(0)] public SortedSet<string> Hosts { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Newest first, at most <see cref="RecentJobs"/>.</summary>
    [Id(1)] public List<string> Jobs { get; set; } = [];
}
