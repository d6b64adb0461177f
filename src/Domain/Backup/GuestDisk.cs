using System.Collections.Immutable;

namespace HvOrleans.Backup;

/// <summary>
/// A guest's disk as its VM grain holds it, without the bytes: writes wait in the guest's buffer
/// (dirty pages) until a flush sends them to the disk — or, while a checkpoint is open, to the
/// checkpoint's differencing log, so the base disk keeps the frozen state. A freeze flushes, then
/// holds new writes until the thaw. Changed blocks are tracked for incremental backups.
/// Every method is pure: it returns the next state and, where bytes must move, which writes.
/// </summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.GuestDisk")]
public sealed record class GuestDisk(
    [property: Id(0)] long SizeBytes,
    [property: Id(1)] bool GuestAgent,
    [property: Id(2)] ImmutableList<DiskWrite> Buffer,
    [property: Id(3)] ImmutableList<DiskWrite> Held,
    [property: Id(4)] ImmutableList<DiskWrite> CheckpointLog,
    [property: Id(5)] ImmutableSortedSet<int> ChangedBlocks,
    [property: Id(6)] string? BackupJob,
    [property: Id(7)] string? FrozenBy,
    [property: Id(8)] DateTime? FrozenAtUtc,
    [property: Id(9)] DateTime? FrozenUntilUtc,
    [property: Id(10)] string? CheckpointBy,
    [property: Id(11)] CheckpointResult? Captured,
    [property: Id(12)] string? LastFreezeJob,
    [property: Id(13)] double? LastFreezeWindowMs,
    [property: Id(14)] DateTime? BufferSinceUtc)
{
    public static GuestDisk Create(long sizeBytes) =>
        new(sizeBytes, true, [], [], [], [], null, null, null, null, null, null, null, null, null);

    public bool Frozen => FrozenBy is not null;

    /// <summary>What the guest would read after a flush: base disk, then these writes in order.</summary>
    public IEnumerable<DiskWrite> Overlay => CheckpointLog.Concat(Buffer).Concat(Held);

    /// <summary>The guest shuts down: Linux syncs its file systems, so the buffer goes to the disk (or the open checkpoint's log).</summary>
    public (GuestDisk Next, IReadOnlyList<DiskWrite> ToDisk) ShutDown() => Flush();

    /// <summary>A guest write: into the buffer, or held while the file systems are frozen.</summary>
    public GuestDisk Write(DiskWrite write, DateTime nowUtc)
    {
        write.Validate(SizeBytes);
        return Frozen ? this with { Held = Held.Add(write) } : Buffered([write], nowUtc);
    }

    private GuestDisk Buffered(IReadOnlyCollection<DiskWrite> writes, DateTime nowUtc) => writes.Count == 0 ? this : this with
    {
        Buffer = Buffer.AddRange(writes),
        ChangedBlocks = ChangedBlocks.Union(writes.SelectMany(w => w.Blocks(BackupSteps.BlockBytes))),
        BufferSinceUtc = BufferSinceUtc ?? nowUtc,
    };

    /// <summary>Writeback: the buffer goes to the base disk (returned), or to the checkpoint log while one is open.</summary>
    public (GuestDisk Next, IReadOnlyList<DiskWrite> ToDisk) Flush() =>
        Buffer.IsEmpty ? (this, [])
        : CheckpointBy is not null ? (this with { CheckpointLog = CheckpointLog.AddRange(Buffer), Buffer = [], BufferSinceUtc = null }, [])
        : (this with { Buffer = [], BufferSinceUtc = null }, Buffer);

    public GuestDisk RequireJob(string jobId)
    {
        Rule.Require(BackupJob == jobId, "backup-job-holds-vm", $"Backup job {jobId} does not hold this VM (held by {BackupJob ?? "none"}).");
        return this;
    }

    public GuestDisk Acquire(string jobId, string vmId)
    {
        Rule.Require(BackupJob is null || BackupJob == jobId, "backup-running",
            $"VM {vmId} is already being backed up by job {BackupJob}; one backup at a time per VM.");
        return this with { BackupJob = jobId };
    }

    /// <summary>
    /// The agent flushes and freezes (the flush is the caller's to perform); without an agent nothing
    /// happens; a VM that is off has no agent to ask, and its disk is at rest.
    /// </summary>
    public (GuestDisk Next, IReadOnlyList<DiskWrite> ToDisk, Consistency Consistency) Freeze(string jobId, DateTime nowUtc, TimeSpan timeout, bool vmRunning)
    {
        RequireJob(jobId);
        if (FrozenBy == jobId) return (this, [], Consistency.FileSystem);
        if (!vmRunning) return (this, [], Consistency.Offline);
        if (!GuestAgent) return (this, [], Consistency.Crash);
        var (flushed, toDisk) = Flush();
        return (flushed with { FrozenBy = jobId, FrozenAtUtc = nowUtc, FrozenUntilUtc = nowUtc + timeout }, toDisk, Consistency.FileSystem);
    }

    /// <summary>
    /// Opens the checkpoint: later flushes go to its log. Captures the blocks changed since the last
    /// backup; those still waiting in buffer or held are counted again for the next one, since their
    /// bytes reach the disk only after this point. Idempotent for the same job.
    /// </summary>
    public GuestDisk Checkpoint(string jobId)
    {
        RequireJob(jobId);
        if (CheckpointBy == jobId) return this;
        var captured = new CheckpointResult(BlockSet.Of(ChangedBlocks), FreezeHeld: FrozenBy == jobId, SizeBytes);
        var pending = Buffer.Concat(Held).SelectMany(w => w.Blocks(BackupSteps.BlockBytes));
        return this with { CheckpointBy = jobId, Captured = captured, ChangedBlocks = ImmutableSortedSet.CreateRange(pending) };
    }

    /// <summary>Thaws (held writes join the buffer) and measures the freeze window. Idempotent.</summary>
    public GuestDisk Thaw(string jobId, DateTime nowUtc)
    {
        if (FrozenBy != jobId) return this;
        double windowMs = (nowUtc - FrozenAtUtc!.Value).TotalMilliseconds;
        return (this with { FrozenBy = null, FrozenAtUtc = null, FrozenUntilUtc = null, Held = [], LastFreezeJob = jobId, LastFreezeWindowMs = windowMs })
            .Buffered(Held, nowUtc);
    }

    /// <summary>The guest's own safety: a freeze not thawed by its deadline thaws itself.</summary>
    public GuestDisk ThawIfExpired(DateTime nowUtc) =>
        FrozenBy is { } job && nowUtc >= FrozenUntilUtc ? Thaw(job, nowUtc) : this;

    public double? FreezeWindowMs(string jobId) => LastFreezeJob == jobId ? LastFreezeWindowMs : null;

    /// <summary>Closes the checkpoint: its log is merged into the base disk (returned, in order).</summary>
    public (GuestDisk Next, IReadOnlyList<DiskWrite> ToDisk) Merge(string jobId) =>
        CheckpointBy != jobId ? (this, []) : (this with { CheckpointBy = null, CheckpointLog = [] }, CheckpointLog);

    /// <summary>
    /// Lets the job go. The blocks its checkpoint captured leave change tracking only with a
    /// <paramref name="committed"/> backup; a failed or cancelled one gives them back, so the next
    /// incremental still holds every change since the last committed backup.
    /// </summary>
    public GuestDisk Release(string jobId, bool committed)
    {
        if (BackupJob != jobId) return this;
        var changed = committed || Captured is null ? ChangedBlocks : ChangedBlocks.Union(Captured.ChangedBlocks);
        return this with { BackupJob = null, Captured = null, ChangedBlocks = changed };
    }
}

/// <summary>What the checkpoint step captured: the blocks changed since the last backup, and whether the freeze still held.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.CheckpointResult")]
public sealed record class CheckpointResult([property: Id(0)] BlockSet ChangedBlocks, [property: Id(1)] bool FreezeHeld, [property: Id(2)] long DiskBytes);
