namespace HvOrleans.Grains;

public sealed class ProbeGrain : Grain, IProbeGrain
{
    public Task<string> Where() => Task.FromResult(RuntimeIdentity);
}
