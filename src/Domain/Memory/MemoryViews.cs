namespace HvOrleans.Memory;

[GenerateSerializer, Alias("HvOrleans.MemoryStatus")]
public enum MemoryStatus
{
    /// <summary>The VM is not running.</summary>
    Off,
    /// <summary>Assigned covers demand plus buffer.</summary>
    OK,
    /// <summary>Assigned covers demand but not the buffer.</summary>
    Low,
    /// <summary>Assigned does not cover demand: the guest pages.</summary>
    Warning,
}

/// <summary>Hyper-V Manager's Memory tab for one VM.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.HostMemoryView")]
public sealed record class HostMemoryView(
    [property: Id(0)] int StartupMb,
    [property: Id(1)] int MinimumMb,
    [property: Id(2)] int MaximumMb,
    [property: Id(3)] int AssignedMb,
    [property: Id(4)] int DemandMb,
    [property: Id(5)] int BufferPercent,
    [property: Id(6)] int Pressure,
    [property: Id(7)] MemoryStatus Status)
{
    public static HostMemoryView Of(VmConfig config, VmMemory memory)
    {
        int pressure = memory.AssignedMb == 0 ? 0 : (int)Math.Round(100.0 * memory.DemandMb / memory.AssignedMb);
        var status = !memory.Running ? MemoryStatus.Off
            : memory.AssignedMb >= memory.DemandWithBufferMb(config) ? MemoryStatus.OK
            : memory.AssignedMb >= memory.DemandMb ? MemoryStatus.Low
            : MemoryStatus.Warning;
        return new(config.StartupMb, config.MinimumMb, config.MaximumMb, memory.AssignedMb,
            memory.DemandMb, config.BufferPercent, pressure, status);
    }
}

/// <summary>
/// What <c>free -m</c> shows inside the Linux guest. A legacy kernel counts ballooned pages as
/// buff/cache within its total; a current one leaves them out of the total (<see cref="GuestKernel"/>).
/// </summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.GuestMemoryView")]
public sealed record class GuestMemoryView(
    [property: Id(0)] int TotalMb,
    [property: Id(1)] int UsedMb,
    [property: Id(2)] int FreeMb,
    [property: Id(3)] int BuffCacheMb)
{
    public static GuestMemoryView Of(VmMemory memory, GuestKernel kernel = GuestKernel.Legacy) =>
        !memory.Running ? new(0, 0, 0, 0)
        : kernel == GuestKernel.Current ? new(memory.GuestTotalMb - memory.BalloonedMb, memory.GuestUsedMb, memory.GuestFreeMb, 0)
        : new(memory.GuestTotalMb, memory.GuestUsedMb, memory.GuestFreeMb, memory.BalloonedMb);
}
