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
