using CsCheck;
using HvOrleans.Backup;

namespace HvOrleans.Tests.Backup;

/// <summary>
/// Random sequences of guest writes and backup steps, with crashes between a step's disk write and
/// its state write (what a SIGKILL of the disk grain's silo does), against a model that only
/// remembers every accepted write. A disk is four blocks; writes land on 512-byte sectors, whose
/// bytes are those of the last write to them.
/// </summary>
public sealed class GuestDiskPropertyTests
{
    private const long DiskBytes = 4L * BackupSteps.BlockBytes;
    private const int SectorsPerBlock = BackupSteps.BlockBytes / DiskWrite.SectorBytes;
    private static readonly DateTime T0 = new(2026, 11, 28, 0, 0, 0, DateTimeKind.Utc);

    private enum Op { Write, Flush, Start, Freeze, Checkpoint, Thaw, Snapshot, Merge, Commit, Fail, Expire }

    private static readonly Gen<(Op Op, int Sector, int Sectors, bool Crash)> GenStep =
        from op in Gen.Enum<Op>()
        from sector in Gen.Int[0, 4 * SectorsPerBlock - 8]
        from sectors in Gen.Int[1, 8]
        from crash in Gen.Bool
        select (op, sector, sectors, crash);

    private static void Apply(Dictionary<long, long> disk, IEnumerable<DiskWrite> writes)
    {
        foreach (var w in writes)
            for (long s = w.OffsetBytes / DiskWrite.SectorBytes; s < w.EndBytes / DiskWrite.SectorBytes; s++) disk[s] = w.Seed;
    }

    private static Dictionary<long, long> GuestView(Dictionary<long, long> blob, GuestDisk d)
    {
        var view = new Dictionary<long, long>(blob);
        Apply(view, d.Overlay);
        return view;
    }

    [Fact]
    public void The_guest_never_loses_a_write_a_backup_holds_what_was_flushed_at_its_checkpoint_and_tracking_misses_nothing()
    {
        GenStep.Array[1, 60].Sample(steps =>
        {
            var disk = GuestDisk.Create(DiskBytes);
            var blob = new Dictionary<long, long>();            // the page blob: sector → seed of the last write
            var accepted = new Dictionary<long, long>();        // the model: every accepted write, in order
            var sinceCommit = new HashSet<int>();               // blocks written since the last committed backup's checkpoint
            var sinceCheckpoint = new HashSet<int>();           // … and since the open checkpoint (with what was not yet on disk then)
            Dictionary<long, long>? atCheckpoint = null, snapshot = null;
            var now = T0;
            long seed = 0;
            const string job = "j";

            // A step that moves bytes writes the blob first and its state after; a crash keeps the bytes, loses the state.
            void Step((GuestDisk Next, IReadOnlyList<DiskWrite> ToDisk) r, bool crash)
            {
                Apply(blob, r.ToDisk);
                if (!crash) disk = r.Next;
            }

            foreach (var (op, sector, sectors, crash) in steps)
            {
                now = now.AddMilliseconds(700);
                switch (op)
                {
                    case Op.Write:
                        var w = new DiskWrite((long)sector * DiskWrite.SectorBytes, sectors * DiskWrite.SectorBytes, ++seed);
                        disk = disk.Write(w, now);
                        Apply(accepted, [w]);
                        foreach (int b in w.Blocks(BackupSteps.BlockBytes)) { sinceCommit.Add(b); sinceCheckpoint.Add(b); }
                        break;
                    case Op.Flush: Step(disk.Flush(), crash); break;
                    case Op.Start when disk.BackupJob is null: disk = disk.Acquire(job, "vm"); break;
                    case Op.Freeze when disk.BackupJob == job && disk.CheckpointBy is null:
                        var (frozen, toDisk, _) = disk.Freeze(job, now, TimeSpan.FromSeconds(2), vmRunning: true);
                        Step((frozen, toDisk), crash);
                        break;
                    case Op.Checkpoint when disk.BackupJob == job && disk.Captured is null:
                        sinceCheckpoint = [.. disk.Buffer.Concat(disk.Held).SelectMany(x => x.Blocks(BackupSteps.BlockBytes))];
                        disk = disk.Checkpoint(job);
                        atCheckpoint = new Dictionary<long, long>(blob);
                        snapshot = null;
                        break;
                    case Op.Thaw: disk = disk.Thaw(job, now); break;
                    case Op.Expire: disk = disk.ThawIfExpired(now.AddSeconds(5)); break;
                    // Taken once: a re-run of the step finds the snapshot its first run made.
                    case Op.Snapshot when disk.CheckpointBy == job && snapshot is null: snapshot = new Dictionary<long, long>(blob); break;
                    // The steps merge only after the snapshot is taken (Cleanup), or when a job is abandoned.
                    case Op.Merge when snapshot is not null: Step(disk.Merge(job), crash); break;
                    case Op.Commit when disk.BackupJob == job && snapshot is not null:
                        Step(disk.Merge(job), crash: false);
                        // What the backup holds: the disk as it was at the checkpoint, whatever was written since.
                        Assert.Equal(atCheckpoint, snapshot);
                        disk = disk.Release(job, committed: true);
                        sinceCommit = sinceCheckpoint;
                        snapshot = atCheckpoint = null;
                        break;
                    case Op.Fail when disk.BackupJob == job:
                        Step(disk.Merge(job), crash: false);
                        disk = disk.Thaw(job, now).Release(job, committed: false);
                        snapshot = atCheckpoint = null;
                        break;
                }
                // The guest reads every write it made, in order, whatever crashed.
                Assert.Equal(accepted, GuestView(blob, disk));
                // Change tracking: every block written since the last committed backup is in the next one
                // (writes held by a freeze are tracked when the thaw lets them into the buffer).
                var tracked = disk.ChangedBlocks.Concat(disk.Captured?.ChangedBlocks ?? BlockSet.Empty)
                    .Concat(disk.Held.SelectMany(h => h.Blocks(BackupSteps.BlockBytes))).ToHashSet();
                Assert.Subset(tracked, sinceCommit);
            }
        }, iter: 1000, print: s => string.Join(" ", s.Select(x => $"{x.Op}{(x.Crash ? "!" : "")}@{x.Sector / SectorsPerBlock}")));
    }
}
