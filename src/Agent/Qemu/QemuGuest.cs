using System.Text.Json;

namespace HvOrleans.Agent.Qemu;

/// <summary>What the agent wrote when it booted a guest: enough to re-attach after the agent itself restarts.</summary>
public sealed record BootRecord(string VmId, long BootId, int StartupMb, int MaximumMb, bool VirtioMem, DateTimeOffset StartedAt, int Disks = 1);

/// <summary>
/// One running QEMU process and its run folder (<c>qmp.sock</c>, <c>ga.sock</c>, <c>qemu.pid</c>,
/// <c>boot.json</c>, <c>console.log</c>, the data disks). QEMU is started with <c>-daemonize</c>, so it is
/// nobody's child: the agent can die and the guest runs on.
/// </summary>
public sealed class QemuGuest : IAsyncDisposable
{
    public const string BootFile = "boot.json", PidFile = "qemu.pid", QmpSocket = "qmp.sock", GuestAgentSocket = "ga.sock", ConsoleLog = "console.log";

    /// <summary>Data disk <paramref name="index"/>'s image in the run folder (the guest's /dev/vda, /dev/vdb, …).</summary>
    public static string DiskFile(int index) => $"disk{index}.qcow2";

    /// <summary>Its drive id on QEMU's command line, which QMP's block commands name it by.</summary>
    public static string DriveId(int index) => $"disk{index}";

    private QemuGuest(string folder, BootRecord boot, int pid)
    {
        Folder = folder;
        Boot = boot;
        Pid = pid;
        Qmp = new QmpClient(Path.Combine(folder, QmpSocket));
        GuestAgent = new GuestAgentClient(Path.Combine(folder, GuestAgentSocket));
        Devices = new VirtioMemoryDevices(Qmp, boot.StartupMb, boot.VirtioMem);
    }

    public string Folder { get; }
    public BootRecord Boot { get; }
    public int Pid { get; }
    public string VmId => Boot.VmId;
    public QmpClient Qmp { get; }
    public GuestAgentClient GuestAgent { get; }
    public IGuestMemoryDevices Devices { get; }

    /// <summary>The targets last sent to the devices; null after an attach, so they are sent again once.</summary>
    public DeviceTargets? Applied { get; set; }
    public DateTimeOffset AppliedAt { get; set; }
    /// <summary>The devices' last reading: how the agent notices a guest that deflated its balloon on its own.</summary>
    public DeviceReading? LastReading { get; set; }
    public bool StatisticsStarted { get; set; }
    /// <summary>Set when the agent asked the guest to stop: its end is then not a crash.</summary>
    public bool Stopping { get; set; }
    public string? CrashReason { get; set; }

    public bool IsAlive => ProcFs.IsAlive(Pid, Folder);

    public static QemuGuest Started(string folder, BootRecord boot, int pid)
    {
        File.WriteAllText(Path.Combine(folder, BootFile + ".tmp"), JsonSerializer.Serialize(boot));
        File.Move(Path.Combine(folder, BootFile + ".tmp"), Path.Combine(folder, BootFile), overwrite: true);
        return new QemuGuest(folder, boot, pid);
    }

    /// <summary>The guest a run folder describes, alive or not; null if the folder holds no booted guest.</summary>
    public static QemuGuest? Attach(string folder)
    {
        try
        {
            var boot = JsonSerializer.Deserialize<BootRecord>(File.ReadAllText(Path.Combine(folder, BootFile)));
            if (boot is null || !int.TryParse(File.ReadAllText(Path.Combine(folder, PidFile)).Trim(), out int pid)) return null;
            return new QemuGuest(folder, boot, pid);
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Why the process ended, as far as the agent can tell: it is not QEMU's parent, so the console's last words.</summary>
    public string DescribeEnd()
    {
        string last = "";
        try
        {
            last = File.ReadLines(Path.Combine(Folder, ConsoleLog)).Select(l => l.Trim()).LastOrDefault(l => l.Length > 0) ?? "";
        }
        catch (IOException) { }
        if (last.Length > 200) last = last[..200] + "…";
        return $"QEMU process {Pid} ended without a stop request" + (last.Length > 0 ? $"; the console's last line: {last}" : "");
    }

    /// <summary>Forgets the boot: the next agent finds no guest here. The disk and console log stay.</summary>
    public void Forget()
    {
        foreach (var f in new[] { BootFile, PidFile, QmpSocket, GuestAgentSocket })
            File.Delete(Path.Combine(Folder, f));
    }

    public ValueTask DisposeAsync() => Qmp.DisposeAsync();
}
