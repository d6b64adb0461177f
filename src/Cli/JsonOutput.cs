using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace HvOrleans.Cli;

/// <summary>
/// Every <c>--json</c> document the console programs print: one record per shape, camelCase, sizes
/// with their unit in the name, a VM always <c>vmId</c>, a host always <c>hostId</c>. Scripts depend on
/// these names.
/// </summary>
public static class JsonOutput
{
    public static string Serialize<T>(T value) =>
        JsonSerializer.Serialize(value, (JsonTypeInfo<T>)OutputJsonContext.Default.GetTypeInfo(typeof(T))!);

    public static T? Deserialize<T>(Stream json) =>
        JsonSerializer.Deserialize(json, (JsonTypeInfo<T>)OutputJsonContext.Default.GetTypeInfo(typeof(T))!);
}

/// <summary>A refusal over HTTP: the rule's id (as hv prints it in brackets) and its message.</summary>
public sealed record ErrorJson(string Error, string Message);

public sealed record GuestJson(int TotalMb, int UsedMb, int FreeMb, int BuffCacheMb);

/// <summary>
/// A real guest's process and devices: the QEMU pid, its uptime, and what virtio-balloon and
/// virtio-mem hold now (which trail the decision by the guest's own reaction time).
/// </summary>
public sealed record RealGuestJson(string GuestState, int Pid, double UptimeSeconds, int DeviceBalloonedMb, int DevicePluggedMb, double ReportAgeSeconds);

public sealed record VmJson(
    string VmId, string HostId, int StartupMb, int MinimumMb, int MaximumMb, int BufferPercent, int Weight,
    string State, int AssignedMb, int DemandMb, int Pressure, string Status, int HotAddedMb, int BalloonedMb,
    int DemandRiseMb, GuestJson Guest, string Driver, RealGuestJson? Real, string? CrashReason)
{
    public static VmJson Of(VmInfo info)
    {
        var (s, h, g, now) = (info.Snapshot, info.HostView, info.GuestView, DateTimeOffset.UtcNow);
        return new(s.VmId, s.HostId, s.Config.StartupMb, s.Config.MinimumMb, s.Config.MaximumMb, s.Config.BufferPercent,
            s.Config.Weight, info.State, h.AssignedMb, h.DemandMb, h.Pressure, h.Status.ToString(),
            s.Memory.HotAddedMb(s.Config), s.Memory.Running ? s.Memory.BalloonedMb : 0, s.Memory.RiseMb,
            new(g.TotalMb, g.UsedMb, g.FreeMb, g.BuffCacheMb), info.Driver.ToString().ToLowerInvariant(),
            info.Real is { } r ? new(r.State.ToString(), r.Pid, Math.Round((now - r.StartedAt).TotalSeconds, 1), r.BalloonedMb, r.PluggedMb,
                Math.Round((now - r.ReportedAt).TotalSeconds, 1)) : null,
            info.CrashReason);
    }
}

public sealed record LatencyJson(double P50, double P99, double Max, int Samples);

public sealed record GuestBackupBenchJson(int Backups, double FreezeP50Ms, double FreezeP99Ms, double FreezeMaxMs, int NotFileSystemConsistent,
    IReadOnlyList<BackupBenchDiskJson> Disks, double HvSeconds, double HvMiBps, double BaselineSeconds, double BaselineMiBps, double Ratio);

public sealed record BackupBenchDiskJson(int Index, long SizeMb, double DataMb);

public sealed record GuestBenchJson(int Steps, LatencyJson BootSeconds, LatencyJson HotAddSeconds, LatencyJson HotAddAfterLoadSeconds,
    LatencyJson BalloonSeconds, LatencyJson UnballoonSeconds, LatencyJson UnballoonAfterLoadSeconds);

public sealed record HostJson(string HostId, int MemoryMb, int ReserveMb, long AssignedMb, long AvailableMb, IReadOnlyList<string> Vms,
    string Driver, string? Accel, bool? AgentConnected, string Policy)
{
    public static HostJson Of(HostInfo h) =>
        new(h.HostId, h.MemoryMb, h.ReserveMb, h.AssignedMb, h.AvailableMb, h.AssignedMbByVm.Keys.Order(StringComparer.Ordinal).ToList(),
            h.Driver.ToString().ToLowerInvariant(), h.Accel, h.Driver == HostDriver.Qemu ? h.AgentConnected : null, h.Policy);
}

public sealed record ResizeJson(string VmId, int BeforeMb, int AfterMb, int HotAddedMb, int BalloonedMb);

public sealed record BalanceJson(string HostId, int CapacityMb, long AssignedMb, IReadOnlyList<ResizeJson> Resizes)
{
    public static BalanceJson Of(BalancingReport r) => new(r.HostId, r.CapacityMb, r.AssignedMb,
        r.Resizes.Select(x => new ResizeJson(x.VmId, x.Before.AssignedMb, x.After.AssignedMb, x.HotAddedMb, x.BalloonDeltaMb)).ToList());
}

public sealed record SiloJson(string Silo, string Name, string Status, DateTime StartTime);

public sealed record DiskJson(string VmId, long SizeBytes, bool GuestAgent, int BufferedWrites, bool Frozen, bool Checkpointed, string? BackupJob)
{
    public static DiskJson Of(DiskInfo d) => new(d.VmId, d.SizeBytes, d.GuestAgent, d.BufferedWrites, d.Frozen, d.Checkpointed, d.BackupJob);
}

public sealed record ChecksumJson(string VmId, string Sha256);

/// <summary>One refresh of <c>hv watch</c> (and the fleet page's host card): the host, its VMs, the backups running on them.</summary>
public sealed record WatchJson(HostJson Host, IReadOnlyList<VmJson> Vms, IReadOnlyList<BackupJobJson> Backups, DateTimeOffset At)
{
    public static WatchJson Of(HostInfo host, IReadOnlyList<VmInfo> vms, IReadOnlyList<BackupJobInfo> backups, DateTimeOffset at) =>
        new(HostJson.Of(host), vms.Select(VmJson.Of).ToList(), backups.Select(BackupJobJson.Of).ToList(), at);
}

public sealed record VmDeletedJson(string VmId, bool Deleted);

/// <summary>A command run in a real guest: its exit code and output as the guest agent returned them.</summary>
public sealed record GuestExecJson(string VmId, int ExitCode, string StdOut, string StdErr);

public sealed record TlsFilesJson(string Dir, IReadOnlyList<string> Files, string SiloName);

public sealed record BackupStartedJson(string JobId);

public sealed record BackupVmJson(string VmId, string Step, string Consistency, long BytesCopied, long BytesTotal, double? FreezeWindowMs,
    string BackupId, string? ParentBackupId, string? Sha256, int FailedAttempts, string? Error, bool Real = false, string? Note = null,
    IReadOnlyList<DiskProgressJson>? Disks = null);

/// <summary>One disk of a real VM's backup: trackedBytes is what the change tracking marked (an incremental copies at most that), dataBytes what the copy holds.</summary>
public sealed record DiskProgressJson(int Index, long SizeBytes, bool Incremental, long TrackedBytes, long DataBytes, long ZeroBytes, int Chunks, int NextChunk, string? ManifestSha256)
{
    public static DiskProgressJson Of(DiskProgress d) => new(d.Index, d.SizeBytes, d.Incremental, d.TrackedBytes, d.DataBytes, d.ZeroBytes, d.Chunks, d.NextChunk, d.Committed?.ManifestSha256);
}

public sealed record BackupJobJson(string JobId, string State, bool Incremental, bool CancelRequested, string Silo, IReadOnlyList<BackupVmJson> Vms)
{
    public static BackupJobJson Of(BackupJobInfo job) => new(job.JobId, job.State.ToString(), job.Incremental, job.CancelRequested, job.Silo,
        job.Vms.Select(v => new BackupVmJson(v.VmId, BackupSteps.InProgress(v.Step).ToString(), v.Consistency.ToString(), v.BytesCopied, v.BytesTotal,
            v.FreezeWindowMs is { } w ? Math.Round(w, 3) : null, v.BackupId, v.ParentBackupId, v.Sha256, v.FailedAttempts, v.Error,
            v.Real, v.Note, v.Disks?.Select(DiskProgressJson.Of).ToList())).ToList());
}

public sealed record BackupRecordJson(string BackupId, string VmId, string JobId, DateTime CreatedUtc, string Consistency, string Kind,
    string? ParentBackupId, long DiskBytes, long StoredBytes, string Sha256, string? Note = null, IReadOnlyList<DiskBackupJson>? Disks = null)
{
    public static BackupRecordJson Of(BackupRecord b) => new(b.BackupId, b.VmId, b.JobId, b.CreatedUtc, b.Consistency.ToString(),
        b.ParentBackupId is null ? "full" : "incremental", b.ParentBackupId, b.DiskBytes, b.StoredBytes, b.Sha256, b.Note,
        b.Disks?.Select(d => new DiskBackupJson(d.Index, d.SizeBytes, d.Incremental ? "incremental" : "full", d.TrackedBytes, d.DataBytes, d.ManifestSha256)).ToList());
}

public sealed record DiskBackupJson(int Index, long SizeBytes, string Kind, long TrackedBytes, long DataBytes, string ManifestSha256);

public sealed record VerifyJson(string BackupId, bool Ok, string Expected, string Actual)
{
    public static VerifyJson Of(VerifyResult v) => new(v.BackupId, v.Ok, v.Expected, v.Actual);
}

/// <summary>A restore: a modelled VM's disk SHA-256, or a real VM's disks as the agent wrote them.</summary>
public sealed record RestoreJson(string VmId, string HostId, string? Sha256, IReadOnlyList<RestoredDiskJson>? Disks = null);

public sealed record VerifyBootJson(string BackupId, bool Ok, string ScratchVm, string HostId, double BootSeconds, string GuestCheck, IReadOnlyList<RestoredDiskJson> Disks);

public sealed record RestoredDiskJson(int Index, long SizeBytes, string ImageSha256, string FileSystemCheck, long BytesRead);

public sealed record SimPolicyJson(string Name, double UnmetDemandGbH, double LaggedUnmetDemandGbH, double PagingShare, double PressureShare, double MeanAssignedMb, double MeanDemandMb,
    long HotAddMb, long BalloonMb, long UnballoonMb, double VmTicksPerSecond, double ResizedVmsPerTick, double GrainCallsPerTick, double StorageWritesPerTick,
    double Seconds, int? DensityVmsPerHost);

/// <summary>
/// One fold of <c>hv sim kfold</c>: the parameters the training folds chose for <c>predict</c>, and the
/// held-out fold's figures for it and for the best faithful peer there (lowest lagged unmet demand).
/// </summary>
public sealed record KFoldFoldJson(int Fold, int TrainVms, int TestVms, double MostRises, int KeepFreePercent,
    string TrainBestPeer, double TrainPredictLaggedGbH, double TrainPeerLaggedGbH,
    string TestBestPeer, double TestPeerLaggedGbH, double TestPeerMeanAssignedMb, double TestPredictLaggedGbH, double TestPredictMeanAssignedMb,
    double TestHyperVLaggedGbH, double TestHyperVMeanAssignedMb, double LaggedVsPeer, double MemoryVsPeer, double LaggedVsHyperV, double MemoryVsHyperV);

/// <summary>
/// <c>hv sim kfold</c>: per fold, and the spread over folds of predict's lagged unmet demand and memory
/// relative to the best faithful peer and to Hyper-V (ratios: 0.8 = 20 % below).
/// </summary>
public sealed record KFoldJson(string Trace, int Folds, int Hosts, int VmsPerHost, string GuestKernel, int Ticks, int Seed,
    IReadOnlyList<KFoldFoldJson> Results, KFoldPooledJson Pooled, KFoldChoiceJson ChosenOnAll, SpreadJson LaggedVsPeer, SpreadJson MemoryVsPeer, SpreadJson LaggedVsHyperV, SpreadJson MemoryVsHyperV);

/// <summary>Sums over the held-out folds: predict's lagged unmet demand against each fold's best peer's, and how many folds meet the goal.</summary>
public sealed record KFoldPooledJson(double PredictLaggedGbH, double PeerLaggedGbH, double LaggedVsPeer, double MemoryVsPeer, int FoldsMeetingGoal);

/// <summary>predict's parameters as the same rule chooses them on all the VM series.</summary>
public sealed record KFoldChoiceJson(double MostRises, int KeepFreePercent);

public sealed record SpreadJson(double Mean, double StandardDeviation, double Min, double Max);

public sealed record SimRunJson(string Trace, int TickSeconds, int Ticks, int Hosts, int VmsPerHost, int HostMemoryMb, string GuestKernel, string Storage,
    int Seed, IReadOnlyList<SimPolicyJson> Policies);

public sealed record ChaosJson(long Operations, long Retries, int AcknowledgedDemands, int BackupJobs, int BackupsVerified, double VerifySeconds, double VerifySlowestVmSeconds, double VerifySumOfVmsSeconds,
    int Outages, double OutageP50Ms, double OutageP99Ms, double OutageMaxMs,
    int? AuditedWrites, int? AuditedHostStates, int? AuditedGrains, int? EtagConflicts, IReadOnlyList<string> Violations);

public sealed record FailoverJson(int Kills, double FirstP50Ms, double FirstP99Ms, double AllP50Ms, double AllP99Ms, double AllMaxMs);

public sealed record BackupBenchJson(int Round, int Vms, long DiskMb, double BaselineMiBps, double HvMiBps, double Ratio,
    double FreezeP50Ms, double FreezeP99Ms, double FreezeMaxMs);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(GuestBenchJson))]
[JsonSerializable(typeof(GuestBackupBenchJson))]
[JsonSerializable(typeof(VmJson))]
[JsonSerializable(typeof(ErrorJson))]
[JsonSerializable(typeof(HostJson))]
[JsonSerializable(typeof(BalanceJson))]
[JsonSerializable(typeof(List<SiloJson>))]
[JsonSerializable(typeof(DiskJson))]
[JsonSerializable(typeof(ChecksumJson))]
[JsonSerializable(typeof(VmDeletedJson))]
[JsonSerializable(typeof(WatchJson))]
[JsonSerializable(typeof(GuestExecJson))]
[JsonSerializable(typeof(TlsFilesJson))]
[JsonSerializable(typeof(BackupStartedJson))]
[JsonSerializable(typeof(BackupJobJson))]
[JsonSerializable(typeof(List<BackupRecordJson>))]
[JsonSerializable(typeof(VerifyJson))]
[JsonSerializable(typeof(RestoreJson))]
[JsonSerializable(typeof(VerifyBootJson))]
[JsonSerializable(typeof(SimRunJson))]
[JsonSerializable(typeof(KFoldJson))]
[JsonSerializable(typeof(ChaosJson))]
[JsonSerializable(typeof(FailoverJson))]
[JsonSerializable(typeof(List<BackupBenchJson>))]
internal sealed partial class OutputJsonContext : JsonSerializerContext;
