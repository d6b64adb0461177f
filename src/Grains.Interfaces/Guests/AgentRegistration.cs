namespace HvOrleans;

/// <summary>An agent taking charge of its physical host. Sizes in MB; <paramref name="Accel"/> is QEMU's accelerator (kvm or tcg).</summary>
[GenerateSerializer, Immutable, Alias("HvOrleans.AgentRegistration")]
public sealed record class AgentRegistration(
    [property: Id(0)] int MemoryMb,
    [property: Id(1)] int ReserveMb,
    [property: Id(2)] string Accel,
    [property: Id(3)] string Machine);
