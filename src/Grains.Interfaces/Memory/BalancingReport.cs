namespace HvOrleans;

/// <summary>What one balancing pass did on one host.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.BalancingReport")]
public sealed record class BalancingReport(
    [property: Id(0)] string HostId,
    [property: Id(1)] int CapacityMb,
    [property: Id(2)] long AssignedMb,
    [property: Id(3)] IReadOnlyList<VmResize> Resizes);

/// <summary>A guest's report of its committed memory.</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.VmDemand")]
public readonly record struct VmDemand([property: Id(0)] string VmId, [property: Id(1)] int DemandMb);

/// <summary>
/// Many of a host's guests' demands as two parallel arrays, <see cref="DemandMb"/>[i] for <see cref="VmIds"/>[i]:
/// the form for a caller that reports a whole host every tick (the fleet simulator). No record per VM
/// is made on either side, and a caller that sends the same <see cref="VmIds"/> array each time lets the
/// host reuse its lookup of their slots. Not changed by its sender once sent.
/// </summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.DemandBatch")]
public sealed record class DemandBatch([property: Id(0)] string[] VmIds, [property: Id(1)] int[] DemandMb);

/// <summary>
/// What the passes after a <see cref="DemandBatch"/> resized, as parallel arrays: VM
/// <see cref="VmIds"/>[<see cref="Resized"/>[k]] now holds <see cref="AssignedMb"/>[k], its guest total
/// <see cref="HighWaterMb"/>[k] (firmware included). <see cref="VmIds"/> is the host's own order (VmId,
/// ordinal), the same array from call to call while its VMs are the same.
/// </summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.BatchBalancing")]
public sealed record class BatchBalancing(
    [property: Id(0)] string[] VmIds,
    [property: Id(1)] int[] Resized,
    [property: Id(2)] int[] AssignedMb,
    [property: Id(3)] int[] HighWaterMb,
    [property: Id(4)] long HostAssignedMb);
