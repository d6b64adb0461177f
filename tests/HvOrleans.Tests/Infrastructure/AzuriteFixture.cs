using System.Diagnostics;
using System.Net.Sockets;

namespace HvOrleans.Tests.Infrastructure;

/// <summary>
/// A real Azurite process on free loopback ports, in memory, started from the repository's
/// node_modules (infra/test.sh runs npm ci) and killed when the tests are done.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    public const string DevelopmentKey =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private Process? _process;

    public string ConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        string azurite = Path.Combine(Repo.Root, "node_modules", ".bin", "azurite");
        if (!File.Exists(azurite))
            throw new InvalidOperationException($"{azurite} is missing: run infra/test.sh (it runs npm ci) or npm ci.");
        int blob = Repo.FreePort(), queue = Repo.FreePort(), table = Repo.FreePort();
        var start = new ProcessStartInfo(azurite)
        {
            ArgumentList =
            {
                "--blobHost", "127.0.0.1", "--blobPort", $"{blob}", "--queueHost", "127.0.0.1", "--queuePort", $"{queue}",
                "--tableHost", "127.0.0.1", "--tablePort", $"{table}", "--inMemoryPersistence", "--extentMemoryLimit", "512",
                "--skipApiVersionCheck", "--disableTelemetry", "--silent",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _process = Process.Start(start) ?? throw new InvalidOperationException("Azurite did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        foreach (int port in new[] { blob, queue, table }) await WaitForPortAsync(port);
        ConnectionString = $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DevelopmentKey};" +
            $"BlobEndpoint=http://127.0.0.1:{blob}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:{queue}/devstoreaccount1;" +
            $"TableEndpoint=http://127.0.0.1:{table}/devstoreaccount1;";
    }

    public Task DisposeAsync()
    {
        if (_process is { HasExited: false }) _process.Kill(entireProcessTree: true);
        _process?.Dispose();
        return Task.CompletedTask;
    }

    private async Task WaitForPortAsync(int port)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_process!.HasExited)
            {
                await Task.Delay(100);
            }
            catch (SocketException e)
            {
                throw new TimeoutException($"Azurite did not open port {port} within 30 s (exited: {_process!.HasExited})", e);
            }
        }
    }
}

/// <summary>
/// Process tests — silos, hv, agents — one after another, beside <see cref="GuestCollection"/>. Alone, one lane left
/// a third of two cores idle (waiting on failovers, boots, a job's pauses); beside each other each test takes
/// longer, but the suite took 17.0 min instead of 21.3 (docs/BENCHMARKS.md).
/// </summary>
[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";
}

/// <summary>The second lane of process tests, with an Azurite of its own: most of the real-guest tests.</summary>
[CollectionDefinition(Name)]
public sealed class GuestCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Guests";
}

/// <summary>
/// The chaos run (infra/chaos.sh starts its own Azurite): three silos voting on one another's liveness every
/// second, asserted to evict no live one, so it runs alone, after the parallel lanes.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ChaosCollection
{
    public const string Name = "Chaos";
}

/// <summary>
/// Tests that count the storage writes of a silo they host: the writes meter is the process's, so
/// they run alone, after the parallel collections, with an Azurite of their own.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WriteCountingCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Write counting";
}
