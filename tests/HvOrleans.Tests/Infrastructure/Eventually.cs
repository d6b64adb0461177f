namespace HvOrleans.Tests.Infrastructure;

public static class Eventually
{
    /// <summary>Reads until <paramref name="done"/> holds; past the bound, fails saying what was awaited and the last value.</summary>
    public static async Task<T> WaitForAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what, int seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var value = await read();
            if (done(value)) return value;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Timed out after {seconds} s waiting for {what}; last: {System.Text.Json.JsonSerializer.Serialize(value)}");
            await Task.Delay(100);
        }
    }
}
