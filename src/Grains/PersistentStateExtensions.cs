using Orleans.Storage;

namespace HvOrleans.Grains;

internal static class PersistentStateExtensions
{
    /// <summary>
    /// Persists <paramref name="next"/>. A failed write leaves the grain with the state it had, so a
    /// refused request changes nothing. On an ETag conflict another activation wrote first: re-read,
    /// so that the caller's retry decides on the stored state instead of overwriting it.
    /// </summary>
    public static async Task SaveAsync<T>(this IPersistentState<T> state, T next)
    {
        var previous = state.State;
        state.State = next;
        try
        {
            await state.WriteStateAsync();
            StorageMetrics.Writes.Add(1);
        }
        catch (InconsistentStateException)
        {
            await state.ReadStateAsync();
            throw;
        }
        catch
        {
            state.State = previous;
            throw;
        }
    }
}
