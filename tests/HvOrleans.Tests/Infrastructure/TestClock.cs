namespace HvOrleans.Tests.Infrastructure;

/// <summary>
/// The test clusters' clock: real time plus an offset a test may move forward, so a deadline (a
/// freeze's 10 s) passes without the test waiting for it. One per process: only tests that own what
/// the deadline guards move it.
/// </summary>
public sealed class TestClock : TimeProvider
{
    public static readonly TestClock Shared = new();
    private long _offsetTicks;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
}
