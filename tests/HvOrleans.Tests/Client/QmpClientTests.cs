using System.Net.Sockets;
using System.Text;
using HvOrleans.Agent.Qemu;

namespace HvOrleans.Tests.Client;

/// <summary>The agent's QMP client against a scripted QMP peer on a real unix socket.</summary>
public sealed class QmpClientTests
{
    [Fact]
    public async Task It_negotiates_skips_events_maps_errors_and_reconnects_after_the_peer_closes()
    {
        string path = Path.Combine("/tmp", $"qmp-{Guid.NewGuid():N}"[..12] + ".sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(2);
        var received = new List<string>();
        var peer = Task.Run(async () =>
        {
            for (int connection = 0; connection < 2; connection++)
            {
                using var socket = await listener.AcceptAsync();
                await using var stream = new NetworkStream(socket);
                using var reader = new StreamReader(stream);
                async Task Send(string line) { await stream.WriteAsync(Encoding.UTF8.GetBytes(line + "\n")); }
                await Send("""{"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": []}}""");
                received.Add((await reader.ReadLineAsync())!);
                await Send("""{"return": {}}""");
                received.Add((await reader.ReadLineAsync())!);
                if (connection == 0)
                {
                    await Send("""{"event": "BALLOON_CHANGE", "data": {"actual": 1}}""");
                    await Send("""{"return": {"actual": 536870912}}""");
                    received.Add((await reader.ReadLineAsync())!);
                    await Send("""{"error": {"class": "GenericError", "desc": "Property 'vmem0.size' not found"}}""");
                }
                else
                {
                    await Send("""{"return": 268435456}""");
                }
            }
        });
        try
        {
            await using var qmp = new QmpClient(path);
            var balloon = await qmp.ExecuteAsync("query-balloon");
            Assert.Equal(536870912, balloon.GetProperty("actual").GetInt64());
            var refused = await Assert.ThrowsAsync<QemuCommandException>(() => qmp.ExecuteAsync("qom-get"));
            Assert.Equal("GenericError", refused.ErrorClass);
            // The peer closed after answering: the next command fails (its answer cannot come), and
            // the one after opens a new session, greeting and all.
            await Assert.ThrowsAnyAsync<IOException>(() => qmp.ExecuteAsync("qom-get"));
            Assert.Equal(268435456, (await qmp.ExecuteAsync("qom-get")).GetInt64());
            await peer;
            Assert.Equal(new[] { "qmp_capabilities", "query-balloon", "qom-get", "qmp_capabilities", "qom-get" },
                received.Select(r => System.Text.Json.JsonDocument.Parse(r).RootElement.GetProperty("execute").GetString()!).ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
