using System.Diagnostics;

namespace HvOrleans.Agent.Backup;

/// <summary>
/// A failure-test setting (<c>Hv:Agent:CrashOnceAt</c>): the agent SIGKILLs itself the first time it reaches the
/// named point of a backup step — a moment no timed kill from outside can hit reliably. A marker in the run folder
/// makes it once per folder, so the restarted agent goes on. None in production.
/// </summary>
public sealed class CrashPoint(string name, string runDirectory, ILogger logger)
{
    /// <summary>QEMU's copy job dismissed and its node removed; the step's answer not yet written down.</summary>
    public const string CopyReleased = "copy-released";

    public void Reached(string point)
    {
        if (!string.Equals(name, point, StringComparison.Ordinal)) return;
        string marker = MarkerOf(runDirectory, point);
        if (File.Exists(marker)) return;
        File.WriteAllText(marker, $"{DateTimeOffset.UtcNow:O}\n");
        logger.LogWarning("Crashing at {Point} (Hv:Agent:CrashOnceAt, a failure-test setting)", point);
        Process.GetCurrentProcess().Kill();
    }

    public static string MarkerOf(string runDirectory, string point) => Path.Combine(runDirectory, $"crashed-at-{point}");
}
