using System.Diagnostics;

namespace HvOrleans.Tests.Infrastructure;

/// <summary>A real silo process (src/Silo), on Azure storage in the given Azurite. Kill() is SIGKILL.</summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _output = [];

    private SiloProcess(Process process, int siloPort) => (_process, SiloPort) = (process, siloPort);

    public int SiloPort { get; }

    public static async Task<SiloProcess> StartAsync(ClusterSettings cluster, IReadOnlyDictionary<string, string>? extra = null,
        int? siloPort = null, int? gatewayPort = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Repo.SiloDll, "--contentRoot", Path.GetDirectoryName(Repo.SiloDll)! },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in cluster.Environment) start.Environment[key] = value;
        start.Environment["Hv__SiloPort"] = $"{siloPort ?? cluster.SiloPort}";
        start.Environment["Hv__GatewayPort"] = $"{gatewayPort ?? cluster.GatewayPort}";
        foreach (var (key, value) in extra ?? new Dictionary<string, string>()) start.Environment[key] = value;
        var silo = new SiloProcess(Process.Start(start)!, siloPort ?? cluster.SiloPort);
        silo._process.OutputDataReceived += (_, e) => silo.OnLine(e.Data);
        silo._process.ErrorDataReceived += (_, e) => silo.OnLine(e.Data);
        silo._process.BeginOutputReadLine();
        silo._process.BeginErrorReadLine();
        var waited = await Task.WhenAny(silo._started.Task, silo._process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        if (!silo._started.Task.IsCompleted)
        {
            bool exited = silo._process.HasExited;
            if (exited) await silo._process.WaitForExitAsync(); // drains the output
            string output = silo.FullOutput;
            await silo.DisposeAsync();
            throw new SiloStartException(exited, output);
        }
        return silo;
    }

    public string Output { get { lock (_output) return string.Join('\n', _output.TakeLast(60)); } }

    private string FullOutput { get { lock (_output) return string.Join('\n', _output); } }

    /// <summary>SIGKILL: no shutdown code runs, exactly as when a server dies.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>SIGSTOP: the process holds its sockets open but answers nothing, as a hung server does.</summary>
    public void Freeze() => Process.Start("kill", ["-STOP", $"{_process.Id}"])!.WaitForExit();

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_output) _output.Add(line);
        if (line.Contains("Application started", StringComparison.Ordinal)) _started.TrySetResult();
    }
}

public sealed class SiloStartException(bool exited, string output)
    : Exception($"Silo did not report 'Application started' within 60 s (exited: {exited}):\n{output}")
{
    public bool Exited => exited;
    public string Output => output;
}

/// <summary>One cluster's identity and ports; a fresh ServiceId keeps test runs out of each other's state.</summary>
public sealed class ClusterSettings(string connectionString)
{
    private readonly string _id = $"e2e-{Guid.NewGuid():N}"[..16];
    public string Id => _id;
    public string ConnectionString => connectionString;
    public int SiloPort { get; } = Repo.FreePort();
    public int GatewayPort { get; } = Repo.FreePort();

    /// <summary>
    /// The hosts' policy unless set per host: Hyper-V's, whose documented figures most tests check; null for
    /// the product's own default (predict), as a silo started by hand has it.
    /// </summary>
    public string? DefaultPolicy { get; init; } = "hyperv";

    public IReadOnlyDictionary<string, string> Environment
    {
        get
        {
            var environment = new Dictionary<string, string>
            {
                ["Hv__Storage"] = "Azure",
                ["Hv__ConnectionString"] = connectionString,
                ["Hv__ClusterId"] = _id,
                ["Hv__ServiceId"] = _id,
            };
            if (DefaultPolicy is not null) environment["Hv__Balancer__DefaultPolicy"] = DefaultPolicy;
            return environment;
        }
    }
}
