using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace HvOrleans.Agent.Qemu;

/// <summary>What a freeze held: file systems frozen, and the freeze (with its flush), the action and the thaw's durations.</summary>
public sealed record FreezeTimes(int FileSystems, TimeSpan Freeze, TimeSpan Action, TimeSpan Thaw)
{
    public TimeSpan Window => Freeze + Action + Thaw;
}

/// <summary>
/// The QEMU guest agent (qemu-ga) on the VM's <c>ga.sock</c>. A connection per operation, opened
/// with <c>guest-sync</c> so that a stale answer left by an earlier, abandoned request is skipped.
/// </summary>
public sealed class GuestAgentClient(string socketPath)
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Runs argv in the guest and waits for it to end, within <paramref name="timeout"/>.</summary>
    public async Task<GuestExecResult> ExecAsync(IReadOnlyList<string> argv, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            return await WithSessionAsync(async session =>
            {
                var started = await session.ExecuteAsync("guest-exec", new JsonObject
                {
                    ["path"] = argv[0],
                    ["arg"] = new JsonArray(argv.Skip(1).Select(a => (JsonNode)JsonValue.Create(a)!).ToArray()),
                    ["capture-output"] = true,
                }, deadline.Token);
                long pid = started.GetProperty("pid").GetInt64();
                while (true)
                {
                    var status = await session.ExecuteAsync("guest-exec-status", new JsonObject { ["pid"] = pid }, deadline.Token);
                    if (status.GetProperty("exited").GetBoolean())
                        return new GuestExecResult(
                            status.TryGetProperty("exitcode", out var code) ? code.GetInt32()
                                : status.TryGetProperty("signal", out var signal) ? 128 + signal.GetInt32() : -1,
                            Decode(status, "out-data"), Decode(status, "err-data"));
                    await Task.Delay(50, deadline.Token);
                }
            }, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The guest did not finish '{string.Join(' ', argv)}' within {timeout.TotalSeconds:0.#} s (or its guest agent is not up yet).");
        }
    }

    /// <summary>Asks the guest to shut itself down cleanly (it flushes and unmounts its disk first).</summary>
    public Task ShutdownAsync(CancellationToken cancellationToken) =>
        WithSessionAsync(async session =>
        {
            // guest-shutdown has no answer on success: the guest goes away.
            await session.SendOnlyAsync("guest-shutdown", new JsonObject { ["mode"] = "powerdown" }, cancellationToken);
            return 0;
        }, cancellationToken);

    /// <summary>
    /// Freezes the guest's file systems (FIFREEZE after a flush), runs <paramref name="whileFrozen"/>,
    /// and thaws, all on one connection opened beforehand: the guest is frozen for the freeze's own
    /// flush, the action, and one round trip. A freeze left by someone else is thawed first. The action
    /// is cancelled once the guest has been frozen for <paramref name="frozenLimit"/> (then thawed, and a
    /// <see cref="TimeoutException"/> says so). Returns the number of file systems frozen (0: none to
    /// freeze) and how long each part took.
    /// </summary>
    public async Task<FreezeTimes> WhileFrozenAsync(Func<CancellationToken, Task> whileFrozen, TimeSpan freezeTimeout, TimeSpan frozenLimit, CancellationToken cancellationToken)
    {
        // A guest agent that is not there (not started, killed) may still have its socket: no answer within the timeout is no freeze.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(freezeTimeout);
        return await WithSessionAsync(async session =>
        {
            if ((await session.ExecuteAsync("guest-fsfreeze-status", [], deadline.Token)).GetString() == "frozen")
                await session.ExecuteAsync("guest-fsfreeze-thaw", [], deadline.Token);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            int frozen = (await session.ExecuteAsync("guest-fsfreeze-freeze", [], deadline.Token)).GetInt32();
            var freeze = clock.Elapsed;
            TimeSpan action;
            using var limit = new CancellationTokenSource(frozenLimit > freeze ? frozenLimit - freeze : TimeSpan.Zero);
            try
            {
                await whileFrozen(limit.Token);
            }
            catch (OperationCanceledException) when (limit.IsCancellationRequested)
            {
                throw new TimeoutException($"The guest was frozen for its {frozenLimit.TotalSeconds:0.#} s limit before the action ended: thawed, the action abandoned.");
            }
            finally
            {
                // Thawed whatever happened meanwhile; a thaw that fails here is the watchdog's.
                action = clock.Elapsed - freeze;
                using var thawDeadline = new CancellationTokenSource(ThawTimeout);
                await session.ExecuteAsync("guest-fsfreeze-thaw", [], thawDeadline.Token);
            }
            return new FreezeTimes(frozen, freeze, action, clock.Elapsed - freeze - action);
        }, deadline.Token);
    }

    private static readonly TimeSpan ThawTimeout = TimeSpan.FromSeconds(5);

    /// <summary>FITHAW; the number thawed (0 when nothing was frozen).</summary>
    public Task<int> ThawAsync(CancellationToken cancellationToken) =>
        WithSessionAsync(async session => (await session.ExecuteAsync("guest-fsfreeze-thaw", [], cancellationToken)).GetInt32(), cancellationToken);

    /// <summary>"thawed" or "frozen", as the guest agent knows it.</summary>
    public Task<string> FreezeStatusAsync(CancellationToken cancellationToken) =>
        WithSessionAsync(async session => (await session.ExecuteAsync("guest-fsfreeze-status", [], cancellationToken)).GetString() ?? "", cancellationToken);

    private static string Decode(JsonElement status, string name) =>
        status.TryGetProperty(name, out var data) ? Encoding.UTF8.GetString(Convert.FromBase64String(data.GetString() ?? "")) : "";

    private async Task<T> WithSessionAsync<T>(Func<Session, Task<T>> body, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await using var socket = await JsonLineSocket.ConnectAsync(socketPath, cancellationToken);
            var session = new Session(socket);
            await session.SyncAsync(cancellationToken);
            return await body(session);
        }
        finally
        {
            _gate.Release();
        }
    }

    private sealed class Session(JsonLineSocket socket)
    {
        public async Task SyncAsync(CancellationToken cancellationToken)
        {
            long id = Random.Shared.NextInt64(1, long.MaxValue / 2);
            await socket.SendAsync(new JsonObject { ["execute"] = "guest-sync", ["arguments"] = new JsonObject { ["id"] = id } }, cancellationToken);
            while (true)
            {
                var answer = await socket.ReadAsync(cancellationToken);
                if (answer.TryGetProperty("return", out var value) && value.ValueKind == JsonValueKind.Number && value.GetInt64() == id) return;
            }
        }

        public Task SendOnlyAsync(string command, JsonObject arguments, CancellationToken cancellationToken) =>
            socket.SendAsync(new JsonObject { ["execute"] = command, ["arguments"] = arguments }, cancellationToken);

        public async Task<JsonElement> ExecuteAsync(string command, JsonObject arguments, CancellationToken cancellationToken)
        {
            await SendOnlyAsync(command, arguments, cancellationToken);
            var answer = await socket.ReadAsync(cancellationToken);
            if (answer.TryGetProperty("error", out var error))
                throw new QemuCommandException(command, error.GetProperty("class").GetString() ?? "", error.GetProperty("desc").GetString() ?? "");
            return answer.GetProperty("return");
        }
    }
}
