using System.Net;
using System.Net.Sockets;

namespace HvOrleans.Tests.Infrastructure;

/// <summary>Where the repository and its built programs are.</summary>
public static class Repo
{
    public static readonly string Root = FindRoot();

    /// <summary>The configuration this test assembly was built in; the silo and hv were built alongside.</summary>
    public static readonly string Configuration =
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";

    public static string SiloDll => Path.Combine(Root, "src", "Silo", "bin", Configuration, "net10.0", "HvOrleans.Silo.dll");
    public static string HvDll => Path.Combine(Root, "src", "Client", "bin", Configuration, "net10.0", "hv.dll");

    /// <summary>
    /// The project's shared Bitbrains trace: <c>$HV_TRACE_DIR</c>, else <c>shared/data/bitbrains-rnd</c>
    /// beside the repository (or beside one of its parent folders), where CI and every session lay it.
    /// </summary>
    public static string SharedTrace => FindSharedTrace();

    private static string FindSharedTrace()
    {
        if (Environment.GetEnvironmentVariable("HV_TRACE_DIR") is { Length: > 0 } dir) return dir;
        for (var d = new DirectoryInfo(Root).Parent; d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "shared", "data", "bitbrains-rnd");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"No shared/data/bitbrains-rnd beside {Root} or its parents; set HV_TRACE_DIR.");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "HvOrleans.sln"))) return dir.FullName;
        throw new InvalidOperationException($"HvOrleans.sln not found above {AppContext.BaseDirectory}");
    }
}
