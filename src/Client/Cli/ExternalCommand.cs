using System.Diagnostics;

namespace HvOrleans.Client.Cli;

/// <summary>
/// The commands hv hands to another HvOrleans program, as git runs git-foo: the fleet simulator
/// (<c>hv-sim</c>, which hosts a silo of its own) and the fault drills (<c>hv-drill</c>). Found beside
/// hv, else in the checkout hv was built in.
/// </summary>
public static class ExternalCommand
{
    /// <summary>The program that runs this command line, or null for one of hv's own.</summary>
    public static (string Program, string Project)? For(IReadOnlyList<string> words) => (words.ElementAtOrDefault(0), words.ElementAtOrDefault(1)) switch
    {
        ("sim", _) => ("hv-sim", "Simulator"),
        ("chaos", _) or ("cluster", "failover") or ("backup", "bench") or ("guest", "bench") or ("guest", "backup-bench") => ("hv-drill", "Tools"),
        _ => null,
    };

    public static async Task<int> RunAsync((string Program, string Project) command, string[] args, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false };
        start.ArgumentList.Add(Locate(command.Program, command.Project));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{command.Program} did not start.");
        await using var _ = cancellationToken.Register(() => { try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } });
        await process.WaitForExitAsync(CancellationToken.None);
        return process.ExitCode;
    }

    private static string Locate(string program, string project)
    {
        string beside = Path.Combine(AppContext.BaseDirectory, $"{program}.dll");
        if (File.Exists(beside)) return beside;
        // hv runs from src/Client/bin/<configuration>/<framework>/: the other program is at the same place in its project.
        var framework = new DirectoryInfo(AppContext.BaseDirectory);
        var configuration = framework.Parent;
        var src = configuration?.Parent?.Parent?.Parent;
        string built = src is null ? "" : Path.Combine(src.FullName, project, "bin", configuration!.Name, framework.Name, $"{program}.dll");
        return File.Exists(built) ? built
            : throw new ClusterConfigurationException($"{program} is not built beside hv ({beside}) nor at {built}; build the solution (infra/test.sh or dotnet build).");
    }
}
