using System.Diagnostics;

namespace HvOrleans.Tests.Infrastructure;

/// <summary>
/// A real <c>hv-agent</c> process for one host, with its own short run folder. <see cref="Kill"/> is
/// SIGKILL of the agent alone (its QEMU guests run on, as they would); disposing also ends every
/// QEMU process of the run folder, so no test leaves a guest behind.
/// </summary>
public sealed class AgentProcess : IAsyncDisposable
{
    private readonly List<string> _output = [];
    private Process _process;
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly IReadOnlyDictionary<string, string> _extra;

    private AgentProcess(ClusterSettings cluster, string hostId, int memoryMb, string runDirectory, IReadOnlyDictionary<string, string>? extra)
    {
        (Cluster, HostId, MemoryMb, RunDirectory, _extra) = (cluster, hostId, memoryMb, runDirectory, extra ?? new Dictionary<string, string>());
        _process = null!;
    }

    public ClusterSettings Cluster { get; }
    public string HostId { get; }
    public int MemoryMb { get; }
    public string RunDirectory { get; }
    public int Pid => _process.Id;

    /// <param name="extra">More environment (settings such as Hv__Agent__HoldWhileFrozen), kept for every restart.</param>
    public static async Task<AgentProcess> StartAsync(ClusterSettings cluster, string hostId, int memoryMb, IReadOnlyDictionary<string, string>? extra = null)
    {
        // Short: QEMU's unix sockets must fit in 107 bytes.
        var run = Path.Combine("/tmp", $"hvt-{Guid.NewGuid():N}"[..12]);
        Directory.CreateDirectory(run);
        var agent = new AgentProcess(cluster, hostId, memoryMb, run, extra);
        await agent.RestartAsync();
        return agent;
    }

    /// <summary>Starts the agent process (again, after a kill), and waits until it has registered its host.</summary>
    public async Task RestartAsync()
    {
        _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { Repo.AgentDll, "--host", HostId, "--memory-mb", $"{MemoryMb}", "--reserve-mb", "0", "--run-dir", RunDirectory, "--guest-image", GuestImage.Directory },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in Cluster.Environment) start.Environment[key] = value;
        start.Environment["HV_HOME"] = RunDirectory;
        start.Environment["Hv__Agent__ShutdownTimeout"] = "00:00:03";
        foreach (var (key, value) in _extra) start.Environment[key] = value;
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Task.WhenAny(_connected.Task, _process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        if (!_connected.Task.IsCompleted)
            throw new InvalidOperationException($"hv-agent did not connect within 60 s (exited: {_process.HasExited}):\n{Output}");
    }

    public string Output { get { lock (_output) return string.Join('\n', _output.TakeLast(80)); } }

    /// <summary>How many lines the agent has written (across restarts) that contain <paramref name="text"/>.</summary>
    public int Count(string text) { lock (_output) return _output.Count(l => l.Contains(text, StringComparison.Ordinal)); }

    public bool HasExited => _process.HasExited;

    /// <summary>SIGKILL of the agent alone.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: false);
        _process.WaitForExit();
    }

    /// <summary>The QEMU processes of this run folder, by VM (read from their command lines, not from the agent).</summary>
    public IReadOnlyDictionary<string, int> QemuPids() =>
        Directory.EnumerateDirectories("/proc").Select(d => Path.GetFileName(d)).Where(n => n.All(char.IsAsciiDigit))
            .Select(n => (Pid: int.Parse(n), Cmd: ReadCmdline(n)))
            .Where(p => p.Cmd.Contains("qemu-system", StringComparison.Ordinal) && p.Cmd.Contains(RunDirectory, StringComparison.Ordinal))
            .ToDictionary(p => p.Cmd.Split("guest=")[1].Split(',')[0], p => p.Pid);

    private static string ReadCmdline(string pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' '); }
        catch (IOException) { return ""; }
        catch (UnauthorizedAccessException) { return ""; }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) Kill();
        await _process.WaitForExitAsync();
        foreach (var pid in QemuPids().Values)
            try { Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { }
        for (int i = 0; i < 50 && QemuPids().Count > 0; i++) await Task.Delay(100);
        try { Directory.Delete(RunDirectory, recursive: true); } catch (IOException) { }
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_output) _output.Add(line);
        if (line.Contains($"Agent for host {HostId} connected", StringComparison.Ordinal)) _connected.TrySetResult();
    }
}

/// <summary>The real-guest image: $HV_GUEST_DIR (infra/test.sh sets it), else built by infra/guest/build.sh into its cache.</summary>
public static class GuestImage
{
    private static readonly Lazy<string> Built = new(Build);

    public static string Directory => Built.Value;

    private static string Build()
    {
        if (Environment.GetEnvironmentVariable("HV_GUEST_DIR") is { Length: > 0 } dir && File.Exists(Path.Combine(dir, "initramfs.gz"))) return dir;
        var start = new ProcessStartInfo("bash", [Path.Combine(Repo.Root, "infra", "guest", "build.sh")]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var build = Process.Start(start)!;
        string stdout = build.StandardOutput.ReadToEnd(), stderr = build.StandardError.ReadToEnd();
        build.WaitForExit();
        if (build.ExitCode != 0) throw new InvalidOperationException($"infra/guest/build.sh failed ({build.ExitCode}): {stderr}");
        return stdout.Trim().Split('\n')[^1];
    }
}
