using System.Diagnostics.Metrics;
using HvOrleans.Grains;

namespace HvOrleans.Tests.Infrastructure;

/// <summary>
/// Counts this process's grain storage writes from the grains' own storage meter, from creation until
/// disposed. Tests that use it run in <see cref="WriteCountingCollection"/>, alone, so that no other
/// test's writes are counted.
/// </summary>
public sealed class StorageWriteCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _writes;

    public StorageWriteCounter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == StorageMetrics.MeterName && instrument.Name == StorageMetrics.WritesName) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _writes, value));
        _listener.Start();
    }

    public long Writes => Interlocked.Read(ref _writes);

    public void Dispose() => _listener.Dispose();
}
