namespace HvOrleans.Grains;

/// <summary>Names of the providers the grains expect the silo to configure.</summary>
public static class GrainStorage
{
    /// <summary>Grain state of hosts and VMs.</summary>
    public const string Name = "hv";
}
