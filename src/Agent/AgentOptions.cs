using System.ComponentModel.DataAnnotations;
using HvOrleans.Connection;

namespace HvOrleans.Agent;

/// <summary>
/// The agent's settings (section <c>Hv:Agent</c>; <c>Hv__Agent__*</c> or the command line:
/// <c>--host</c>, <c>--memory-mb</c>, <c>--reserve-mb</c>, <c>--run-dir</c>, <c>--guest-image</c>, <c>--accel</c>).
/// </summary>
public sealed class AgentOptions
{
    public const string Section = "Hv:Agent";

    [Required, RegularExpression("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")] public string HostId { get; set; } = "";

    /// <summary>The host's memory for guests and reserve; 0 = the machine's physical memory.</summary>
    [Range(0, 64 * 1_048_576)] public int MemoryMb { get; set; }
    [Range(0, 64 * 1_048_576)] public int ReserveMb { get; set; } = 1024;

    /// <summary>Each VM's run folder lives here; the default is $HV_HOME/agents/&lt;host&gt;.</summary>
    public string RunDirectory { get; set; } = "";

    /// <summary>The guest image (vmlinuz, initramfs.gz) built by infra/guest/build.sh.</summary>
    public string GuestImage { get; set; } = Path.Combine(
        Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } cache ? cache
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "hvorleans", "guest");

    /// <summary>auto: KVM if QEMU can use it here, else TCG.</summary>
    [RegularExpression("^(auto|kvm|tcg)$")] public string Accel { get; set; } = "auto";

    [Required] public string QemuPath { get; set; } = "qemu-system-x86_64";

    /// <summary>How often guests' figures go to the host grain and its decisions come back (Hyper-V: 1 s).</summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "00:01:00")] public TimeSpan SyncPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a guest gets to shut down cleanly before QEMU is told to quit.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")] public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>No sync answered for this long: the cluster connection is rebuilt (guests keep their memory meanwhile).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")] public TimeSpan ReconnectAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A guest frozen for a backup is thawed by then, whatever its job does (Hyper-V's VSS: 10 s).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:01:00")] public TimeSpan FreezeLimit { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A pause with the guest frozen, before the copy starts — for failure tests that must kill the agent then, or outlast <see cref="FreezeLimit"/>. Zero in production.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")] public TimeSpan HoldWhileFrozen { get; set; } = TimeSpan.Zero;

    /// <summary>For failure tests: the agent SIGKILLs itself the first time it reaches this point of a backup step (see <see cref="Backup.CrashPoint"/>). Empty in production.</summary>
    [RegularExpression("^(|" + Backup.CrashPoint.CopyReleased + ")$")] public string CrashOnceAt { get; set; } = "";

    public string RunDirectoryOrDefault => RunDirectory is { Length: > 0 } dir ? dir : Path.Combine(HvHome.Directory, "agents", HostId);
}
