using System.Net.Sockets;
using Azure;

namespace HvOrleans.Connection;

/// <summary>
/// Makes a call again while the cluster cannot answer it: a silo died under the call, storage is
/// paused, a grain is moving. An operation that failed that way has an unknown outcome, so only
/// operations that are safe to repeat go through here — every hv operator command is, by design
/// (absolute settings, declarative creates, fixed job ids, operation ids for restores).
/// </summary>
public sealed class OperationRetry(TimeSpan window, Action<int, Exception, TimeSpan>? onRetry = null,
    Func<Exception, bool>? isRetryable = null, TimeSpan? firstDelay = null, TimeSpan? maxDelay = null, TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly Func<Exception, bool> _isRetryable = isRetryable ?? IsTransient;
    private readonly TimeSpan _firstDelay = firstDelay ?? TimeSpan.FromMilliseconds(200), _maxDelay = maxDelay ?? TimeSpan.FromSeconds(2);

    public int Retries { get; private set; }

    /// <summary>
    /// The cluster could not answer, as opposed to answered "no": a rule's refusal, a usage error or a
    /// bug is never retried.
    /// </summary>
    public static bool IsTransient(Exception e) => e switch
    {
        HvRuleException => false,
        TimeoutException or OperationCanceledException or IOException or SocketException => true,
        Orleans.Runtime.OrleansException => true,
        RequestFailedException storage => storage.Status is 0 or 408 or 429 or >= 500,
        _ => e.InnerException is { } inner && IsTransient(inner),
    };

    public async Task<T> RunAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken = default)
    {
        long start = _clock.GetTimestamp();
        var delay = _firstDelay;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (Exception e) when (_isRetryable(e) && !cancellationToken.IsCancellationRequested && _clock.GetElapsedTime(start) + delay < window)
            {
                Retries++;
                onRetry?.Invoke(attempt, e, delay);
                await Task.Delay(delay, _clock, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(_maxDelay.Ticks, delay.Ticks * 2));
            }
        }
    }

    public Task RunAsync(Func<Task> call, CancellationToken cancellationToken = default) =>
        RunAsync(async () => { await call(); return true; }, cancellationToken);
}
