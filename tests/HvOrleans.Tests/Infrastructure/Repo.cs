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
    public static string AgentDll => Path.Combine(Root, "src", "Agent", "bin", Configuration, "net10.0", "hv-agent.dll");

    /// <summary>The repository's own slice of the Bitbrains trace (a month of 20 VMs, memory columns): a fresh clone has it.</summary>
    public static string Trace => Path.Combine(Root, "data", "bitbrains-rnd-2013-7");
    /// <summary>The other month the repository ships (2013-8, VMs 1–40): data a policy was not designed on.</summary>
    public static string TraceAugust => Path.Combine(Root, "data", "bitbrains-rnd-2013-8");

    /// <summary>
    /// A loopback port free now and never handed out before in this process: the two lanes of process tests ask at
    /// the same moments, and a port is only taken once its process has started.
    /// </summary>
    public static int FreePort()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            lock (HandedOut)
                if (HandedOut.Add(port)) return port;
        }
    }

    private static readonly HashSet<int> HandedOut = [];

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "HvOrleans.sln"))) return dir.FullName;
        throw new InvalidOperationException($"HvOrleans.sln not found above {AppContext.BaseDirectory}");
    }
}
