using System.Text.Json;
using System.Text.Json.Nodes;

namespace HvOrleans.Agent.Qemu;

/// <summary>
/// QEMU's machine protocol on the VM's <c>qmp.sock</c>: greeting, <c>qmp_capabilities</c>, then
/// commands, skipping the asynchronous events that may arrive before an answer. Reconnects lazily
/// after any failure, which is how the agent re-attaches to a QEMU it did not start.
/// </summary>
public sealed class QmpClient(string socketPath) : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(5);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private JsonLineSocket? _socket;

    public async Task<JsonElement> ExecuteAsync(string command, JsonObject? arguments = null, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CommandTimeout);
        try
        {
            _socket ??= await OpenAsync(timeout.Token);
            return await RoundTripAsync(_socket, command, arguments, timeout.Token);
        }
        catch (Exception e) when (e is not QemuCommandException)
        {
            await CloseAsync();
            if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                throw new TimeoutException($"QMP {command} on {socketPath}: no answer within {CommandTimeout.TotalSeconds:0} s", e);
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<JsonLineSocket> OpenAsync(CancellationToken cancellationToken)
    {
        var socket = await JsonLineSocket.ConnectAsync(socketPath, cancellationToken);
        try
        {
            var greeting = await socket.ReadAsync(cancellationToken);
            if (!greeting.TryGetProperty("QMP", out _)) throw new IOException($"{socketPath} is not a QMP socket.");
            await RoundTripAsync(socket, "qmp_capabilities", null, cancellationToken);
            return socket;
        }
        catch
        {
            await socket.DisposeAsync();
            throw;
        }
    }

    private static async Task<JsonElement> RoundTripAsync(JsonLineSocket socket, string command, JsonObject? arguments, CancellationToken cancellationToken)
    {
        var message = new JsonObject { ["execute"] = command };
        if (arguments is not null) message["arguments"] = arguments;
        await socket.SendAsync(message, cancellationToken);
        while (true)
        {
            var answer = await socket.ReadAsync(cancellationToken);
            if (answer.TryGetProperty("return", out var value)) return value;
            if (answer.TryGetProperty("error", out var error))
                throw new QemuCommandException(command, error.GetProperty("class").GetString() ?? "", error.GetProperty("desc").GetString() ?? "");
            // Anything else is an event (BALLOON_CHANGE, SHUTDOWN, …): not our answer.
        }
    }

    private async Task CloseAsync()
    {
        if (_socket is { } socket)
        {
            _socket = null;
            await socket.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync();
        try { await CloseAsync(); }
        finally { _gate.Release(); }
    }
}
