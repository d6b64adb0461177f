namespace HvOrleans;

/// <summary>What runs a host's guests.</summary>
[GenerateSerializer, Alias("HvOrleans.HostDriver")]
public enum HostDriver
{
    /// <summary>The modelled guest inside the grains: hosts added with <c>hv host add</c> and the simulator.</summary>
    Model = 0,
    /// <summary>Real Linux guests under QEMU, run by the host's <c>hv-agent</c>.</summary>
    Qemu = 1,
}
