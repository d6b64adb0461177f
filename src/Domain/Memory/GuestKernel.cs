namespace HvOrleans.Memory;

/// <summary>
/// How a Linux guest's kernel accounts for the pages its balloon holds, which sets how far the balloon
/// can go. The driver keeps a floor of free memory that grows with the guest's total RAM (hv_balloon's
/// <c>compute_balloon_floor()</c> is a piecewise-linear function of <c>totalram_pages()</c>: 8 MB + ½ of
/// the first 128 MB, 40 MB + ¼ below 512 MB, 104 MB + ⅛ below 2 GB, 232 MB + 1/16 below 8 GB, 488 MB + 1/32
/// above; <see cref="VmMemory.BalloonFloorMb"/>).
/// </summary>
[GenerateSerializer, Alias("HvOrleans.GuestKernel")]
public enum GuestKernel
{
    /// <summary>
    /// Ballooned pages stay in the guest's MemTotal and show as used buffers (the seed's guest, older
    /// hv_balloon kernels): the floor follows the most the guest has had, however much is ballooned.
    /// </summary>
    Legacy,

    /// <summary>
    /// Ballooned pages leave MemTotal (measured on the real 6.1 guests here: MemTotal 924 → 707 MB after
    /// ballooning 217 MB; docs/POLICIES.md, "Guest kernels"): the floor follows the current total, so the
    /// balloon can take more from a guest it already shrank.
    /// </summary>
    Current,
}
