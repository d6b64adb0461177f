namespace HvOrleans.Memory;

/// <summary>A VM's Dynamic Memory configuration. Sizes in MB.</summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("HvOrleans.VmConfig")]
public sealed record class VmConfig(
    [property: Id(0)] int StartupMb,
    [property: Id(1)] int MinimumMb,
    [property: Id(2)] int MaximumMb,
    [property: Id(3)] int BufferPercent = VmConfig.DefaultBufferPercent,
    [property: Id(4)] int Weight = VmConfig.DefaultWeight,
    [property: Id(5)] GuestKernel Kernel = GuestKernel.Legacy)
{
    public const int DefaultBufferPercent = 20;
    public const int DefaultWeight = 5000;
    public const int PageMb = 2;
    public const int SmallestMinimumMb = 32;
    public const int LargestMaximumMb = 1_048_576;
    public const int LowestBufferPercent = 5;
    public const int HighestBufferPercent = 2000;
    public const int HighestWeight = 10_000;

    /// <summary>Throws <see cref="HvRuleException"/> naming the first rule this configuration breaks.</summary>
    public VmConfig Validate()
    {
        RequirePages(nameof(StartupMb), StartupMb);
        RequirePages(nameof(MinimumMb), MinimumMb);
        RequirePages(nameof(MaximumMb), MaximumMb);
        Rule.Require(MinimumMb >= SmallestMinimumMb, "minimum-at-least-32mb",
            $"MinimumMb must be at least {SmallestMinimumMb} MB; got {MinimumMb}.");
        Rule.Require(MinimumMb <= StartupMb, "minimum-le-startup",
            $"MinimumMb must not exceed StartupMb; got MinimumMb {MinimumMb} > StartupMb {StartupMb}.");
        Rule.Require(StartupMb <= MaximumMb, "startup-le-maximum",
            $"StartupMb must not exceed MaximumMb; got StartupMb {StartupMb} > MaximumMb {MaximumMb}.");
        Rule.Require(MaximumMb <= LargestMaximumMb, "maximum-le-1tb",
            $"MaximumMb must not exceed 1 TB ({LargestMaximumMb} MB); got {MaximumMb}.");
        Rule.Require(BufferPercent is >= LowestBufferPercent and <= HighestBufferPercent, "buffer-5-to-2000-percent",
            $"BufferPercent must be {LowestBufferPercent}..{HighestBufferPercent}; got {BufferPercent}.");
        Rule.Require(Weight is >= 0 and <= HighestWeight, "weight-0-to-10000",
            $"Weight must be 0..{HighestWeight}; got {Weight}.");
        return this;
    }

    /// <summary>
    /// Validates a change of configuration. While the VM runs, Startup is fixed, Maximum may only be
    /// raised and Minimum only lowered — the guest has already been told its limits.
    /// </summary>
    public VmConfig ValidateChangeTo(VmConfig next, bool running)
    {
        next.Validate();
        if (!running) return next;
        Rule.Require(next.StartupMb == StartupMb, "startup-fixed-while-running",
            $"StartupMb cannot change while the VM runs; it is {StartupMb}, asked {next.StartupMb}.");
        Rule.Require(next.MaximumMb >= MaximumMb, "maximum-only-raised-while-running",
            $"MaximumMb can only be raised while the VM runs; it is {MaximumMb}, asked {next.MaximumMb}.");
        Rule.Require(next.MinimumMb <= MinimumMb, "minimum-only-lowered-while-running",
            $"MinimumMb can only be lowered while the VM runs; it is {MinimumMb}, asked {next.MinimumMb}.");
        return next;
    }

    private static void RequirePages(string name, int valueMb) =>
        Rule.Require(valueMb > 0 && valueMb % PageMb == 0, "size-multiple-of-2mb",
            $"{name} must be a positive multiple of {PageMb} MB; got {valueMb}.");
}
