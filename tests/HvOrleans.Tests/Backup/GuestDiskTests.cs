using HvOrleans.Backup;

namespace HvOrleans.Tests.Backup;

/// <summary>The guest-disk rules alone: no grain, no blob, a clock that only moves when told.</summary>
public sealed class GuestDiskTests
{
    private const long DiskBytes = 16L * 1024 * 1024;
    private static readonly DateTime T0 = new(2026, 11, 28, 12, 0, 0, DateTimeKind.Utc);
    private static readonly TimeSpan FreezeLimit = TimeSpan.FromSeconds(10);
    private static readonly DiskWrite InBlock0 = new(0, 4096, 1), InBlock2 = new(2L * BackupSteps.BlockBytes, 4096, 2), InBlock3 = new(3L * BackupSteps.BlockBytes, 512, 3);

    private static GuestDisk Disk(params DiskWrite[] writes) =>
        writes.Aggregate(GuestDisk.Create(DiskBytes), (d, w) => d.Write(w, T0));

    [Fact]
    public void A_write_waits_in_the_buffer_until_a_flush_sends_it_to_the_disk()
    {
        var disk = Disk(InBlock0);
        Assert.Equal([InBlock0], disk.Buffer);
        Assert.Equal(T0, disk.BufferSinceUtc);
        var (flushed, toDisk) = disk.Flush();
        Assert.Equal([InBlock0], toDisk);
        Assert.Equal((0, (DateTime?)null), (flushed.Buffer.Count, flushed.BufferSinceUtc));
        Assert.Equal([0], flushed.ChangedBlocks);
    }

    [Fact]
    public void Freeze_flushes_the_buffer_and_holds_later_writes_until_the_thaw()
    {
        var (frozen, toDisk, consistency) = Disk(InBlock0).Acquire("j", "vm").Freeze("j", T0, FreezeLimit, vmRunning: true);
        Assert.Equal([InBlock0], toDisk);
        Assert.Equal((Consistency.FileSystem, T0 + FreezeLimit), (consistency, frozen.FrozenUntilUtc));
        var holding = frozen.Write(InBlock2, T0.AddMilliseconds(5));
        Assert.Equal([InBlock2], holding.Held);
        Assert.Empty(holding.Buffer);
        var thawed = holding.Thaw("j", T0.AddMilliseconds(74));
        Assert.Equal([InBlock2], thawed.Buffer);
        Assert.Equal((0, 74.0), (thawed.Held.Count, thawed.FreezeWindowMs("j")));
    }

    [Fact]
    public void Without_a_guest_agent_nothing_is_frozen_and_the_backup_is_crash_consistent()
    {
        var (next, toDisk, consistency) = (Disk(InBlock0) with { GuestAgent = false }).Acquire("j", "vm").Freeze("j", T0, FreezeLimit, vmRunning: true);
        Assert.Equal((Consistency.Crash, 0, false, 1), (consistency, toDisk.Count, next.Frozen, next.Buffer.Count));
    }

    [Fact]
    public void A_freeze_past_its_deadline_thaws_itself_and_not_a_tick_before()
    {
        var (frozen, _, _) = Disk().Acquire("j", "vm").Freeze("j", T0, FreezeLimit, vmRunning: true);
        Assert.True(frozen.ThawIfExpired(T0 + FreezeLimit - TimeSpan.FromTicks(1)).Frozen);
        var thawed = frozen.ThawIfExpired(T0 + FreezeLimit);
        Assert.Equal((false, 10_000.0), (thawed.Frozen, thawed.FreezeWindowMs("j")));
    }

    [Fact]
    public void Checkpoint_captures_the_changes_since_the_last_backup_and_counts_buffered_ones_again()
    {
        var (flushed, _) = Disk(InBlock0).Flush();
        var disk = flushed.Write(InBlock2, T0).Acquire("j", "vm");   // block 2 still in the buffer at the checkpoint
        var checkpointed = disk.Checkpoint("j");
        Assert.Equal(BlockSet.Of([0, 2]), checkpointed.Captured!.ChangedBlocks);
        Assert.Equal([2], checkpointed.ChangedBlocks);                   // its bytes reach the disk after the checkpoint
        Assert.Same(checkpointed, checkpointed.Checkpoint("j"));          // idempotent
        var (logged, toDisk) = checkpointed.Flush();
        Assert.Equal((0, 1), (toDisk.Count, logged.CheckpointLog.Count)); // later flushes go to the checkpoint's log
        Assert.Equal([InBlock2], logged.Merge("j").ToDisk);
    }

    [Fact]
    public void A_failed_backup_gives_its_captured_changes_back_to_change_tracking()
    {
        var (flushed, _) = Disk(InBlock0, InBlock3).Flush();
        var captured = flushed.Acquire("j", "vm").Checkpoint("j").Write(InBlock2, T0);
        var (merged, _) = captured.Merge("j");
        var failed = merged.Release("j", committed: false);
        Assert.Equal([0, 2, 3], failed.ChangedBlocks);                   // the next incremental still has blocks 0 and 3
        Assert.Equal(((string?)null, (CheckpointResult?)null), (failed.BackupJob, failed.Captured));
        var committed = merged.Release("j", committed: true);
        Assert.Equal([2], committed.ChangedBlocks);
    }

    [Fact]
    public void One_backup_at_a_time_per_disk()
    {
        var held = Disk().Acquire("j1", "vm");
        Assert.Equal(held, held.Acquire("j1", "vm"));
        Assert.Equal("backup-running", Assert.Throws<HvRuleException>(() => held.Acquire("j2", "vm")).Rule);
        Assert.Equal("backup-job-holds-vm", Assert.Throws<HvRuleException>(() => held.Checkpoint("j2")).Rule);
        Assert.Same(held, held.Release("j2", committed: true));          // another job cannot let it go
    }

    [Theory]
    [InlineData(100, 512, "write-offset-sector")]
    [InlineData(0, 100, "write-length-sector")]
    [InlineData(0, 8 * 1024 * 1024, "write-length-sector")]
    [InlineData(16L * 1024 * 1024 - 512, 1024, "write-within-disk")]
    [InlineData(long.MaxValue - 511, 1024, "write-within-disk")]
    [InlineData(-512, 512, "write-offset-sector")]
    public void A_bad_write_is_refused_naming_the_rule(long offset, int length, string rule) =>
        Assert.Equal(rule, Assert.Throws<HvRuleException>(() => new DiskWrite(offset, length, 1).Validate(DiskBytes)).Rule);

    [Fact]
    public void A_write_spans_the_blocks_it_touches_and_its_bytes_depend_only_on_seed_and_position()
    {
        Assert.Equal([0, 1], new DiskWrite(BackupSteps.BlockBytes - 512, 1024, 1).Blocks(BackupSteps.BlockBytes));
        var whole = new byte[1024];
        new DiskWrite(4096, 1024, 9).Fill(whole);
        var part = new byte[512];
        new DiskWrite(4096, 1024, 9).ApplyTo(part, 4096 + 512);
        Assert.Equal(whole[512..], part);
        var other = new byte[1024];
        new DiskWrite(4096, 1024, 10).Fill(other);
        Assert.NotEqual(whole, other);
    }

    [Fact]
    public void Steps_run_in_Hyper_V_order_and_blocks_keep_their_ids()
    {
        var order = new List<BackupStep>();
        for (var step = BackupStep.Pending; !BackupSteps.Finished(step); step = BackupSteps.Next(step)) order.Add(BackupSteps.Next(step));
        Assert.Equal([BackupStep.Freeze, BackupStep.Checkpoint, BackupStep.Thaw, BackupStep.Snapshot, BackupStep.Copy, BackupStep.Cleanup, BackupStep.Done], order);
        Assert.Equal(BackupStep.Failed, BackupSteps.Next(BackupStep.Failed));
        Assert.Equal((3, 512), (BackupSteps.BlockCount(2L * BackupSteps.BlockBytes + 512), BackupSteps.BlockLength(2, 2L * BackupSteps.BlockBytes + 512)));
        Assert.Equal("YmxrLTAwMDAwMDA3", BackupSteps.BlockId(7));       // base64 of "blk-00000007", the same on every attempt
    }
}
