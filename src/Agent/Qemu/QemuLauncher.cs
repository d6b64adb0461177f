using System.Globalization;

namespace HvOrleans.Agent.Qemu;

/// <summary>Boots a VM's guest: its run folder, its data disk, and the QEMU command line.</summary>
public sealed class QemuLauncher(AgentOptions options, string accel, ILogger logger)
{
    /// <summary>The hot-add region is whole 128 MB memory blocks, as the guest onlines it; virtio-mem plugs inside it in 2 MB blocks.</summary>
    private const int RegionBlockMb = VmMemory.HotAddBlockMb;
    /// <summary>A unix socket path must fit in sun_path (108 bytes with its terminator).</summary>
    private const int MaxSocketPath = 107;

    public string Accel => accel;

    /// <summary>Refuses to start an agent that could boot nothing, naming what to install or build.</summary>
    public static void CheckPrerequisites(AgentOptions options)
    {
        if (!ProcessRunner.OnPath(options.QemuPath))
            throw new AgentSetupException($"QEMU ({options.QemuPath}) is not installed: apt-get install qemu-system-x86 qemu-utils (infra/agent.sh installs them).");
        foreach (var tool in new[] { "qemu-img", "mke2fs" })
            if (!ProcessRunner.OnPath(tool))
                throw new AgentSetupException($"{tool} is not installed: apt-get install {(tool == "mke2fs" ? "e2fsprogs" : "qemu-utils")}.");
        foreach (var file in new[] { "vmlinuz", "initramfs.gz" })
            if (!File.Exists(Path.Combine(options.GuestImage, file)))
                throw new AgentSetupException($"The guest image is missing ({Path.Combine(options.GuestImage, file)}): build it with infra/guest/build.sh.");
        string longest = Path.Combine(options.RunDirectoryOrDefault, new string('x', 64), QemuGuest.GuestAgentSocket);
        if (longest.Length > MaxSocketPath)
            throw new AgentSetupException($"The run folder {options.RunDirectoryOrDefault} is too long for QEMU's unix sockets ({longest.Length} > {MaxSocketPath} bytes with a 64-character VM id); set Hv:Agent:RunDirectory (--run-dir) to a shorter one.");
    }

    /// <summary>KVM where QEMU can really use it (the device may open and still abort on an MSR, as on nested hosts), else TCG.</summary>
    public static async Task<string> DetectAccelAsync(AgentOptions options)
    {
        if (options.Accel != "auto") return options.Accel;
        if (!File.Exists("/dev/kvm")) return "tcg";
        try
        {
            var (code, _) = await ProcessRunner.RunAsync(options.QemuPath,
                ["-accel", "kvm", "-machine", "q35", "-cpu", "host", "-m", "64", "-nodefaults", "-display", "none", "-S", "-qmp", "stdio"],
                TimeSpan.FromSeconds(20), stdin: "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"cont\"}\n{\"execute\":\"quit\"}\n");
            return code == 0 ? "kvm" : "tcg";
        }
        catch (TimeoutException) { return "tcg"; }
    }

    public async Task<QemuGuest> BootAsync(PlannedVm vm, CancellationToken cancellationToken)
    {
        string folder = Path.Combine(options.RunDirectoryOrDefault, vm.VmId);
        Directory.CreateDirectory(folder);
        for (int i = 0; i < vm.Disks.Count; i++)
            await EnsureDiskAsync(Path.Combine(folder, QemuGuest.DiskFile(i)), vm.Disks.SizesGb[i], formatExt4: i == 0);
        foreach (var stale in new[] { QemuGuest.QmpSocket, QemuGuest.GuestAgentSocket, QemuGuest.PidFile })
            File.Delete(Path.Combine(folder, stale));
        File.WriteAllText(Path.Combine(folder, QemuGuest.ConsoleLog), "");

        int startupMb = vm.Config.StartupMb;
        int regionMb = (vm.Config.MaximumMb - startupMb + RegionBlockMb - 1) / RegionBlockMb * RegionBlockMb;
        var args = Arguments(vm, folder, startupMb, regionMb);
        var started = DateTimeOffset.UtcNow;
        // With -daemonize QEMU returns once the VM is set up (or has failed to be); its process then belongs to init.
        var (code, output) = await ProcessRunner.RunAsync(options.QemuPath, args, TimeSpan.FromSeconds(60));
        if (code != 0)
            throw new AgentSetupException($"QEMU refused to boot VM {vm.VmId} (exit {code}): {output}");
        int pid = int.Parse(File.ReadAllText(Path.Combine(folder, QemuGuest.PidFile)).Trim(), CultureInfo.InvariantCulture);
        logger.LogInformation("VM {VmId} booted (boot {BootId}): QEMU pid {Pid}, {StartupMb} MB boot RAM, {RegionMb} MB hot-add region, {Accel}",
            vm.VmId, vm.BootId, pid, startupMb, regionMb, accel);
        return QemuGuest.Started(folder, new BootRecord(vm.VmId, vm.BootId, startupMb, vm.Config.MaximumMb, regionMb > 0, started, vm.Disks.Count), pid);
    }

    private List<string> Arguments(PlannedVm vm, string folder, int startupMb, int regionMb)
    {
        string F(string name) => Path.Combine(folder, name);
        var args = new List<string>
        {
            "-name", $"guest={vm.VmId},process=hv-{vm.VmId}",
            "-machine", "q35", "-accel", accel, "-cpu", accel == "kvm" ? "host" : "max", "-smp", "1",
            "-m", regionMb > 0 ? $"{startupMb}M,slots=1,maxmem={startupMb + regionMb}M" : $"{startupMb}M",
        };
        if (regionMb > 0)
            args.AddRange([
                "-object", $"memory-backend-ram,id=vmem0mem,size={regionMb}M",
                "-device", "virtio-mem-pci,id=vmem0,memdev=vmem0mem,requested-size=0"]);
        for (int i = 0; i < vm.Disks.Count; i++)
            args.AddRange([
                "-drive", $"file={F(QemuGuest.DiskFile(i))},if=none,id={QemuGuest.DriveId(i)},format=qcow2,cache=writeback",
                "-device", $"virtio-blk-pci,drive={QemuGuest.DriveId(i)},id=vd{(char)('a' + i)}"]);
        args.AddRange([
            // deflate-on-oom: ballooned pages stay in the guest's MemTotal and show as used, as Hyper-V's
            // guests show them (docs/REAL-GUESTS.md says why this was chosen).
            "-device", "virtio-balloon-pci,id=balloon0,deflate-on-oom=on",
            "-device", "virtio-serial-pci",
            "-chardev", $"socket,id=ga0,path={F(QemuGuest.GuestAgentSocket)},server=on,wait=off",
            "-device", "virtserialport,chardev=ga0,name=org.qemu.guest_agent.0",
            "-qmp", $"unix:{F(QemuGuest.QmpSocket)},server=on,wait=off",
            "-kernel", Path.Combine(options.GuestImage, "vmlinuz"),
            "-initrd", Path.Combine(options.GuestImage, "initramfs.gz"),
            "-append", $"console=ttyS0 memhp_default_state=online_movable panic=-1 hv.vm={vm.VmId}",
            "-nic", "none", "-display", "none", "-no-reboot",
            "-serial", $"file:{F(QemuGuest.ConsoleLog)}",
            "-daemonize", "-pidfile", F(QemuGuest.PidFile),
        ]);
        return args;
    }

    /// <summary>
    /// A data disk, made once per VM on the host (a restore writes it before the first boot): the
    /// first ext4 (mke2fs needs no root for an image file), the others blank; written under a temporary name first.
    /// </summary>
    private static async Task EnsureDiskAsync(string path, int sizeGb, bool formatExt4)
    {
        if (File.Exists(path)) return;
        string raw = path + ".raw", tmp = path + ".tmp";
        try
        {
            if (formatExt4)
            {
                var (code, output) = await ProcessRunner.RunAsync("mke2fs", ["-q", "-t", "ext4", "-F", "-L", "data",
                    // Inode tables and journal written now, not by the guest's ext4lazyinit over its first minutes: those writes would fill every disk's first incremental backup.
                    "-E", "lazy_itable_init=0,lazy_journal_init=0", raw, $"{sizeGb}G"], TimeSpan.FromSeconds(60));
                if (code != 0) throw new AgentSetupException($"mke2fs failed for {raw}: {output}");
                (code, output) = await ProcessRunner.RunAsync("qemu-img", ["convert", "-O", "qcow2", raw, tmp], TimeSpan.FromSeconds(120));
                if (code != 0) throw new AgentSetupException($"qemu-img convert failed for {tmp}: {output}");
            }
            else
            {
                var (code, output) = await ProcessRunner.RunAsync("qemu-img", ["create", "-q", "-f", "qcow2", tmp, $"{sizeGb}G"], TimeSpan.FromSeconds(60));
                if (code != 0) throw new AgentSetupException($"qemu-img create failed for {tmp}: {output}");
            }
            File.Move(tmp, path);
        }
        finally
        {
            File.Delete(raw);
            File.Delete(tmp);
        }
    }
}

/// <summary>The agent cannot run guests here: what is missing and how to get it.</summary>
public sealed class AgentSetupException(string message) : Exception(message);
