using Azure;
using HvOrleans.Connection;
using Orleans.Runtime;

namespace HvOrleans.Tests.Client;

public sealed class OperationRetryTests
{
    [Fact]
    public async Task A_call_the_cluster_could_not_answer_is_made_again_until_it_is_answered()
    {
        var attempts = new List<int>();
        var retry = new OperationRetry(TimeSpan.FromSeconds(30), (attempt, _, _) => attempts.Add(attempt));
        int calls = 0;
        int answer = await retry.RunAsync(async () =>
        {
            await Task.Yield();
            return ++calls switch
            {
                1 => throw new SiloUnavailableException("silo died"),
                2 => throw new TimeoutException("no response"),
                _ => 42,
            };
        });
        Assert.Equal((42, 3, 2), (answer, calls, retry.Retries));
        Assert.Equal([1, 2], attempts);
    }

    [Fact]
    public async Task A_refusal_is_an_answer_and_is_never_retried()
    {
        var retry = new OperationRetry(TimeSpan.FromSeconds(30));
        int calls = 0;
        var e = await Assert.ThrowsAsync<HvRuleException>(() => retry.RunAsync(() =>
        {
            calls++;
            throw new HvRuleException("host-capacity", "no room");
        }));
        Assert.Equal(("host-capacity", 1, 0), (e.Rule, calls, retry.Retries));
    }

    [Fact]
    public async Task After_the_window_the_last_failure_is_reported()
    {
        var clock = new SteppingClock();
        var retry = new OperationRetry(TimeSpan.FromMilliseconds(700), clock: clock);
        int calls = 0;
        await Assert.ThrowsAsync<SiloUnavailableException>(() => retry.RunAsync(() =>
        {
            calls++;
            throw new SiloUnavailableException("still dead");
        }));
        // Calls at 0, 200 and 600 ms; the next wait (800 ms) would end past the 700 ms window.
        Assert.Equal((3, TimeSpan.FromMilliseconds(600)), (calls, clock.Elapsed));
    }

    [Theory]
    [InlineData(503, true)]
    [InlineData(500, true)]
    [InlineData(408, true)]
    [InlineData(0, true)]
    [InlineData(409, false)]
    [InlineData(404, false)]
    public void Storage_errors_are_transient_only_when_storage_could_not_answer(int status, bool transient) =>
        Assert.Equal(transient, OperationRetry.IsTransient(new RequestFailedException(status, "storage")));

    [Fact]
    public void Bugs_and_refusals_are_not_transient_and_wrapped_cluster_failures_are()
    {
        Assert.False(OperationRetry.IsTransient(new InvalidOperationException("bug")));
        Assert.False(OperationRetry.IsTransient(new HvRuleException("vm-exists", "exists")));
        Assert.True(OperationRetry.IsTransient(new AggregateException(new SiloUnavailableException("rejected"))));
    }
}

/// <summary>A clock on which every wait ends at once, having moved time on by exactly its length: waits without waiting.</summary>
internal sealed class SteppingClock : TimeProvider
{
    private long _ticks;

    public TimeSpan Elapsed => TimeSpan.FromTicks(Interlocked.Read(ref _ticks));
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    public override long GetTimestamp() => Interlocked.Read(ref _ticks);
    public override DateTimeOffset GetUtcNow() => DateTimeOffset.UnixEpoch + Elapsed;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        Interlocked.Add(ref _ticks, dueTime.Ticks);
        callback(state);
        return new Fired();
    }

    private sealed class Fired : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => false;
        public void Dispose() { }
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
