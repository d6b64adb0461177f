namespace HvOrleans;

/// <summary>A diagnostics grain that says which silo it lives on: for measuring failover.</summary>
[Alias("HvOrleans.IProbeGrain")]
public interface IProbeGrain : IGrainWithIntegerKey
{
    [Alias("Where")] Task<string> Where();
}
