using HvOrleans.Backup;

namespace HvOrleans.Tests.Backup;

public sealed class BlockSetTests
{
    [Fact]
    public void Indexes_are_kept_as_sorted_runs_without_duplicates()
    {
        var set = BlockSet.Of([9, 1, 2, 3, 3, 7, 8]);
        Assert.Equal([new BlockRange(1, 3), new BlockRange(7, 3)], set.Ranges);
        Assert.Equal([1, 2, 3, 7, 8, 9], set.ToArray());
        Assert.Equal(6, set.Count);
        Assert.Equal("1-3,7-9", set.ToString());
    }

    [Fact]
    public void A_full_backup_of_a_terabyte_disk_is_one_run()
    {
        var all = BlockSet.All(BackupSteps.BlockCount(1L << 40));
        Assert.Equal([new BlockRange(0, 262_144)], all.Ranges);
        Assert.Equal(262_144, all.Count);
        Assert.Equal(1L << 40, all.Bytes(1L << 40));
    }

    [Fact]
    public void Bytes_count_the_short_last_block_of_a_disk()
    {
        long diskBytes = 2L * BackupSteps.BlockBytes + 4096;
        Assert.Equal(BackupSteps.BlockBytes + 4096L, BlockSet.Of([0, 2]).Bytes(diskBytes));
    }

    [Fact]
    public void Sets_with_the_same_blocks_are_equal()
    {
        Assert.Equal(BlockSet.Of([3, 1, 2]), BlockSet.All(4) with { Ranges = [new BlockRange(1, 3)] });
        Assert.NotEqual(BlockSet.Of([1, 2]), BlockSet.Of([1, 3]));
        Assert.Equal(BlockSet.Empty, BlockSet.Of([]));
    }

    [Fact]
    public void A_backup_id_names_its_vm()
    {
        Assert.Equal("web-1@job-7", BackupIds.Of("web-1", "job-7"));
        Assert.Equal("web-1", BackupIds.VmOf("web-1@job-7"));
        foreach (var bad in new[] { "job-7-web-1", "@job", "web@" })
            Assert.Equal("backup-id-format", Assert.Throws<HvRuleException>(() => BackupIds.VmOf(bad)).Rule);
    }
}
