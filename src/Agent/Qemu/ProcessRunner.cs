using System.Diagnostics;

namespace HvOrleans.Agent.Qemu;

/// <summary>Runs a short helper program (qemu-img, mke2fs, QEMU's own start) and captures what it said.</summary>
internal static class ProcessRunner
{
    public static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout, string? stdin = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start.");
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within {timeout.TotalSeconds:0} s.");
        }
        return (process.ExitCode, ((await stdout) + (await stderr)).Trim());
    }

    /// <summary>Whether <paramref name="file"/> is an executable on PATH (or a path to one).</summary>
    public static bool OnPath(string file) =>
        file.Contains('/') ? File.Exists(file)
        : (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Any(d => File.Exists(Path.Combine(d, file)));
}

/// <summary>What /proc says of a process, without being its parent.</summary>
internal static class ProcFs
{
    /// <summary>Alive, not a zombie, and its command line contains <paramref name="marker"/> (so a recycled pid is not mistaken for it).</summary>
    public static bool IsAlive(int pid, string marker)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            char state = stat[(stat.LastIndexOf(')') + 2)..][0];
            if (state is 'Z' or 'X') return false;
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Contains(marker, StringComparison.Ordinal);
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}
