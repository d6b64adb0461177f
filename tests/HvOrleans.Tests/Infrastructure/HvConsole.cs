using System.Diagnostics;
using System.Text.Json;

namespace HvOrleans.Tests.Infrastructure;

/// <summary>Runs the real <c>hv</c> program against a cluster, as an operator would.</summary>
public sealed class HvConsole(ClusterSettings cluster, IReadOnlyDictionary<string, string>? environment = null)
{
    private readonly string _home = Directory.CreateTempSubdirectory("hv-home-").FullName;

    public async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Repo.HvDll);
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (key, value) in cluster.Environment) start.Environment[key] = value;
        start.Environment["HV_HOME"] = _home;   // never the developer's own ~/.hvorleans
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs a command that must succeed and returns its <c>--json</c> output.</summary>
    public async Task<JsonElement> JsonAsync(params string[] args)
    {
        var (code, stdout, stderr) = await RunAsync([.. args, "--json"]);
        if (code != 0) throw new InvalidOperationException($"hv {string.Join(' ', args)} exited {code}: {stderr}");
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }

    public async Task OkAsync(params string[] args)
    {
        var (code, _, stderr) = await RunAsync(args);
        if (code != 0) throw new InvalidOperationException($"hv {string.Join(' ', args)} exited {code}: {stderr}");
    }
}
