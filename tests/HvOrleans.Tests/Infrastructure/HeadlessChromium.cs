using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace HvOrleans.Tests.Infrastructure;

/// <summary>
/// Debian's headless Chromium with one page open, driven over the DevTools protocol: evaluate
/// JavaScript in the live page (the same page, so a test sees it update itself) and take screenshots.
/// </summary>
public sealed partial class HeadlessChromium : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ClientWebSocket _socket = new();
    private readonly string _profile;
    private int _nextId;

    private HeadlessChromium(Process process, string profile) => (_process, _profile) = (process, profile);

    public static string? Executable => new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);

    public static async Task<HeadlessChromium> OpenAsync(string url, int width = 1400, int height = 900)
    {
        string executable = Executable ?? throw new InvalidOperationException("Chromium is not installed: infra/test.sh installs Debian's chromium package.");
        string profile = Directory.CreateTempSubdirectory("hv-chromium-").FullName;
        var start = new ProcessStartInfo(executable) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", $"--window-size={width},{height}",
                     "--remote-debugging-port=0", $"--user-data-dir={profile}", url })
            start.ArgumentList.Add(a);
        var chromium = new HeadlessChromium(Process.Start(start)!, profile);
        try
        {
            // Chromium names its DevTools endpoint on stderr once it listens.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            string? endpoint = null;
            while (endpoint is null && await chromium._process.StandardError.ReadLineAsync(timeout.Token) is { } line)
                endpoint = DevTools().Match(line) is { Success: true } m ? m.Groups[1].Value : null;
            if (endpoint is null) throw new InvalidOperationException("Chromium exited without opening DevTools.");
            _ = chromium._process.StandardError.ReadToEndAsync();   // keep draining its log
            using var http = new HttpClient();
            string pageSocket = await Eventually.WaitForAsync(async () =>
            {
                var pages = JsonDocument.Parse(await http.GetStringAsync($"http://{endpoint}/json/list")).RootElement;
                return pages.EnumerateArray().Where(p => p.GetProperty("type").GetString() == "page")
                    .Select(p => p.GetProperty("webSocketDebuggerUrl").GetString()).FirstOrDefault() ?? "";
            }, s => s.Length > 0, "Chromium's page to appear in DevTools", seconds: 20);
            await chromium._socket.ConnectAsync(new Uri(pageSocket), timeout.Token);
            return chromium;
        }
        catch
        {
            await chromium.DisposeAsync();
            throw;
        }
    }

    /// <summary>The value of a JavaScript expression in the page (awaited if it is a promise).</summary>
    public async Task<JsonElement> EvaluateAsync(string expression)
    {
        var result = await CallAsync("Runtime.evaluate", new { expression, returnByValue = true, awaitPromise = true });
        if (result.TryGetProperty("exceptionDetails", out var failure)) throw new InvalidOperationException($"{expression}: {failure}");
        return result.GetProperty("result").TryGetProperty("value", out var value) ? value.Clone() : default;
    }

    public async Task ScreenshotAsync(string path)
    {
        var result = await CallAsync("Page.captureScreenshot", new { format = "png" });
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, Convert.FromBase64String(result.GetProperty("data").GetString()!));
    }

    private async Task<JsonElement> CallAsync(string method, object parameters)
    {
        int id = Interlocked.Increment(ref _nextId);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(new { id, method, @params = parameters }), WebSocketMessageType.Text, true, timeout.Token);
        var buffer = new byte[1 << 16];
        while (true)
        {
            using var message = new MemoryStream();
            WebSocketReceiveResult received;
            do
            {
                received = await _socket.ReceiveAsync(buffer, timeout.Token);
                message.Write(buffer, 0, received.Count);
            } while (!received.EndOfMessage);
            var root = JsonDocument.Parse(message.ToArray()).RootElement;
            // Events arrive on the same socket; the answer is the message with this call's id.
            if (!root.TryGetProperty("id", out var answered) || answered.GetInt32() != id) continue;
            if (root.TryGetProperty("error", out var error)) throw new InvalidOperationException($"{method}: {error}");
            return root.GetProperty("result").Clone();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        await _process.WaitForExitAsync();
        _process.Dispose();
        try { Directory.Delete(_profile, recursive: true); } catch (IOException) { }
    }

    [GeneratedRegex(@"DevTools listening on ws://([^/]+)/")]
    private static partial Regex DevTools();
}
