using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace HvOrleans.Agent.Qemu;

/// <summary>
/// One JSON object per line over a unix socket: how both QMP and the QEMU guest agent talk. One
/// request at a time; a request that times out closes the connection, since its answer could
/// otherwise be read as the next one's.
/// </summary>
internal sealed class JsonLineSocket : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly StreamReader _reader;
    private readonly Stream _stream;

    private JsonLineSocket(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _reader = new StreamReader(_stream, new UTF8Encoding(false));
    }

    public static async Task<JsonLineSocket> ConnectAsync(string path, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
            return new JsonLineSocket(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async Task SendAsync(JsonObject message, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(message.ToJsonString() + "\n");
        await _stream.WriteAsync(bytes, cancellationToken);
        await _stream.FlushAsync(cancellationToken);
    }

    /// <summary>The next whole JSON object; throws when the peer closed the socket.</summary>
    public async Task<JsonElement> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            string? line = await _reader.ReadLineAsync(cancellationToken)
                ?? throw new IOException("The QEMU socket was closed.");
            // The guest agent may prefix its answer with the 0xFF sync delimiter (not UTF-8: read as U+FFFD).
            line = line.TrimStart('\uFFFD').Trim();
            if (line.Length == 0) continue;
            using var document = JsonDocument.Parse(line);
            return document.RootElement.Clone();
        }
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _stream.Dispose();
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>QEMU or its guest agent refused a command: its error class and description.</summary>
public sealed class QemuCommandException(string command, string errorClass, string description)
    : Exception($"{command}: {errorClass}: {description}")
{
    public string Command { get; } = command;
    public string ErrorClass { get; } = errorClass;
}
