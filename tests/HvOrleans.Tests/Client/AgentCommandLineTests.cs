using System.Diagnostics;
using HvOrleans.Tests.Infrastructure;

namespace HvOrleans.Tests.Client;

/// <summary>hv-agent refuses what it cannot run with, before connecting anywhere, naming the setting or what to install.</summary>
public sealed class AgentCommandLineTests
{
    private static async Task<(int Code, string Stderr)> RunAsync(string[] args, string? qemuPath = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Repo.AgentDll);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["HV_HOME"] = Path.Combine(Path.GetTempPath(), "hv-agent-cli-never-created");
        if (qemuPath is not null) start.Environment["Hv__Agent__QemuPath"] = qemuPath;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        await stdout;
        return (process.ExitCode, stderr);
    }

    [Theory]
    [InlineData(2, "Hv:Agent:HostId", "--memory-mb", "4096")]
    [InlineData(2, "Hv:Agent:HostId", "--host", "bad/name")]
    [InlineData(2, "Hv:Agent:Accel", "--host", "h1", "--accel", "xen")]
    [InlineData(2, "unknown option or missing value: --memory", "--host", "h1", "--memory", "4096")]
    [InlineData(2, "Hv:Agent:MemoryMb", "--host", "h1", "--memory-mb", "-5")]
    [InlineData(1, "The guest image is missing (/nonexistent/vmlinuz): build it with infra/guest/build.sh.", "--host", "h1", "--guest-image", "/nonexistent")]
    [InlineData(1, "QEMU (qemu-system-nonexistent) is not installed: apt-get install qemu-system-x86 qemu-utils", "--host", "h1")]
    public async Task Bad_settings_and_missing_parts_are_refused_with_what_to_do(int code, string message, params string[] args)
    {
        // The QEMU case names its program through the environment, as an operator's override would.
        var (exit, stderr) = await RunAsync(args, message.Contains("qemu-system-nonexistent") ? "qemu-system-nonexistent" : null);
        Assert.Equal(code, exit);
        Assert.Contains(message, stderr);
    }
}
