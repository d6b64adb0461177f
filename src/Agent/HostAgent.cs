using System.Collections.Concurrent;
using HvOrleans.Agent.Backup;
using HvOrleans.Agent.Qemu;
using HvOrleans.Cli;
using HvOrleans.Connection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace HvOrleans.Agent;

/// <summary>
/// The host's hypervisor side. Once a period: read every guest's devices and statistics, send them
/// to the host grain in one call, and make the guests match the plan it answers with — boot, stop,
/// and the balloon and virtio-mem targets of each decision. The agent holds no state of its own that
/// matters: the plan is the cluster's, and each guest's run folder says what runs.
/// </summary>
public sealed class HostAgent(
    AgentOptions options,
    ClusterConnectionOptions connection,
    QemuLauncher launcher,
    IHostApplicationLifetime lifetime,
    ILogger<HostAgent> logger) : BackgroundService, IHostAgent
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, QemuGuest> _guests = new(StringComparer.Ordinal);
    /// <summary>Boots and stops in progress, one per VM, so a slow one never holds up the others' balancing.</summary>
    private readonly ConcurrentDictionary<string, Task> _work = new(StringComparer.Ordinal);
    /// <summary>Boots QEMU refused: reported as crashes until the VM is started again (a new boot id) or stopped.</summary>
    private readonly ConcurrentDictionary<string, (long BootId, string Reason)> _failedBoots = new(StringComparer.Ordinal);

    private readonly GuestBackups _backups = new(logger, options.FreezeLimit, options.HoldWhileFrozen,
        new CrashPoint(options.CrashOnceAt, options.RunDirectoryOrDefault, logger));
    private readonly DiskRestorer _restorer = new(logger);

    private IHost? _client;
    private IHostGrain? _host;
    private IHostAgent? _reference;
    private DateTimeOffset _lastSync = DateTimeOffset.UtcNow;
    private string? _lastError;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        AttachExisting();
        foreach (var guest in _guests.Values.Where(g => g.CrashReason is null))
            await _backups.ThawIfFrozenAsync(guest, stoppingToken);
        using var timer = new PeriodicTimer(options.SyncPeriod);
        do
        {
            try
            {
                await SyncOnceAsync(stoppingToken);
            }
            catch (HvRuleException e) when (_host is not null && e.Rule is "host-driver" or "host-exists" or "host-memory-size" or "host-reserve-size")
            {
                logger.LogCritical("The cluster refused this agent for host {HostId}: [{Rule}] {Message}", options.HostId, e.Rule, e.Message);
                Environment.ExitCode = ExitCodes.Refused;
                lifetime.StopApplication();
                return;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Once per kind of failure, not once a second.
                string kind = System.Text.RegularExpressions.Regex.Replace(e.GetBaseException().Message, "[0-9.]+", "#");
                if (_lastError != kind) logger.LogWarning("Sync with the cluster failed ({Error}); guests keep their memory meanwhile", e.GetBaseException().Message);
                _lastError = kind;
                if (DateTimeOffset.UtcNow - _lastSync > options.ReconnectAfter) await DropClientAsync();
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task SyncOnceAsync(CancellationToken cancellationToken)
    {
        if (_host is null) await ConnectAsync(cancellationToken);
        var reports = await ReadGuestsAsync(cancellationToken);
        var plan = await _host!.SyncGuests(new HostSync(reports, _reference!)).WaitAsync(CallTimeout, cancellationToken);
        if (_lastError is not null) logger.LogInformation("Sync with the cluster works again");
        (_lastSync, _lastError) = (DateTimeOffset.UtcNow, null);
        await ReconcileAsync(plan, cancellationToken);
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        _client = await ClusterConnection.ConnectAsync(connection, cancellationToken);
        var grains = _client.Services.GetRequiredService<IClusterClient>();
        _reference = grains.CreateObjectReference<IHostAgent>(this);
        var host = grains.GetGrain<IHostGrain>(options.HostId);
        _host = host;
        var info = await host.RegisterAgent(new AgentRegistration(MemoryMb(), options.ReserveMb, launcher.Accel, Environment.MachineName)).WaitAsync(CallTimeout, cancellationToken);
        logger.LogInformation("Agent for host {HostId} connected: {MemoryMb} MB, {ReserveMb} MB reserved, {Accel}; {Vms} VM(s) on the host, {Guests} guest(s) running here",
            info.HostId, info.MemoryMb, info.ReserveMb, launcher.Accel, info.AssignedMbByVm.Count, _guests.Count);
    }

    private async Task DropClientAsync()
    {
        var client = _client;
        (_client, _host, _reference) = (null, null, null);
        _lastSync = DateTimeOffset.UtcNow;
        if (client is null) return;
        logger.LogWarning("No sync for {Seconds:0} s: reconnecting to the cluster", options.ReconnectAfter.TotalSeconds);
        try { await client.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(2)).Token); } catch (Exception) { }
        client.Dispose();
    }

    private int MemoryMb()
    {
        if (options.MemoryMb > 0) return options.MemoryMb;
        string line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        long kb = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        return (int)(kb / 1024 / VmConfig.PageMb * VmConfig.PageMb);
    }

    /// <summary>Guests left running by an earlier agent: found by their run folders, alive or crashed since.</summary>
    private void AttachExisting()
    {
        string root = options.RunDirectoryOrDefault;
        Directory.CreateDirectory(root);
        foreach (var folder in Directory.EnumerateDirectories(root))
        {
            if (QemuGuest.Attach(folder) is not { } guest) continue;
            if (!guest.IsAlive) guest.CrashReason = guest.DescribeEnd();
            _guests[guest.VmId] = guest;
            logger.LogInformation("Re-attached VM {VmId} (boot {BootId}, QEMU pid {Pid}, {State})", guest.VmId, guest.Boot.BootId, guest.Pid,
                guest.CrashReason is null ? "running" : "ended");
        }
    }

    private async Task<List<GuestReport>> ReadGuestsAsync(CancellationToken cancellationToken)
    {
        var reads = _guests.Values.Where(g => !g.Stopping).Select(g => ReadAsync(g, cancellationToken)).ToList();
        var reports = (await Task.WhenAll(reads)).ToList();
        reports.AddRange(_failedBoots.Select(f => new GuestReport(f.Key, f.Value.BootId, GuestRunState.Crashed, 0, DateTimeOffset.UtcNow, null, 0, 0, f.Value.Reason)));
        return reports;
    }

    private async Task<GuestReport> ReadAsync(QemuGuest guest, CancellationToken cancellationToken)
    {
        if (guest.CrashReason is null && !guest.IsAlive && !guest.Stopping)
        {
            guest.CrashReason = guest.DescribeEnd();
            logger.LogWarning("VM {VmId}: {Reason}", guest.VmId, guest.CrashReason);
        }
        var booting = new GuestReport(guest.VmId, guest.Boot.BootId, GuestRunState.Booting, guest.Pid, guest.Boot.StartedAt, null, 0, 0);
        if (guest.CrashReason is { } reason) return booting with { State = GuestRunState.Crashed, CrashReason = reason };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReadTimeout);
        try
        {
            if (!guest.StatisticsStarted)
            {
                await guest.Devices.StartStatisticsAsync(timeout.Token);
                guest.StatisticsStarted = true;
            }
            var reading = await guest.Devices.ReadAsync(timeout.Token);
            guest.LastReading = reading;
            return booting with
            {
                State = reading.Stats is null ? GuestRunState.Booting : GuestRunState.Running,
                Stats = reading.Stats, BalloonedMb = reading.BalloonedMb, PluggedMb = reading.PluggedMb,
            };
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // QMP not up yet, or QEMU busy: the guest keeps what it has; its figures come next period.
            logger.LogDebug("VM {VmId}: devices not readable ({Error})", guest.VmId, e.Message);
            return booting;
        }
    }

    private async Task ReconcileAsync(HostPlan plan, CancellationToken cancellationToken)
    {
        var planned = plan.Vms.ToDictionary(v => v.VmId, StringComparer.Ordinal);
        foreach (var (vmId, failed) in _failedBoots)
            if (!planned.TryGetValue(vmId, out var p) || !p.Running || p.BootId != failed.BootId) _failedBoots.TryRemove(vmId, out _);

        foreach (var guest in _guests.Values)
        {
            bool wanted = planned.TryGetValue(guest.VmId, out var p) && p.Running && p.BootId == guest.Boot.BootId;
            if (guest.CrashReason is not null)
            {
                // Reported; once the cluster has taken the crash in (or moved on), the folder forgets the boot.
                if (!wanted) Remove(guest);
                continue;
            }
            if (!wanted && !guest.Stopping) Begin(guest.VmId, () => StopAsync(guest));
        }

        foreach (var vm in plan.Vms.Where(v => v.Running))
        {
            if (_guests.TryGetValue(vm.VmId, out var guest))
            {
                if (guest.Boot.BootId == vm.BootId && guest.CrashReason is null && !guest.Stopping)
                    await ApplyAsync(guest, vm, cancellationToken);
            }
            else if (!_failedBoots.ContainsKey(vm.VmId))
            {
                Begin(vm.VmId, () => BootAsync(vm, cancellationToken));
            }
        }
    }

    private async Task ApplyAsync(QemuGuest guest, PlannedVm vm, CancellationToken cancellationToken)
    {
        var targets = RealGuestMemory.Targets(vm.Config.StartupMb, vm.HighWaterMb, vm.AssignedMb);
        // The hot-add region was sized by Maximum at boot: a Maximum raised since takes effect at the next boot.
        int regionMb = guest.Boot.VirtioMem ? guest.Boot.MaximumMb - guest.Boot.StartupMb : 0;
        targets = targets with { PluggedMb = Math.Min(targets.PluggedMb, regionMb) };
        if (guest.Applied == targets && !DeflatedOnItsOwn(guest)) return;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReadTimeout);
        try
        {
            await guest.Devices.ApplyAsync(targets, timeout.Token);
            logger.LogInformation("VM {VmId}: assigned {AssignedMb} MB → plugged {PluggedMb} MB, balloon {BalloonMb} MB",
                vm.VmId, vm.AssignedMb, targets.PluggedMb, targets.BalloonMb);
            (guest.Applied, guest.AppliedAt) = (targets, DateTimeOffset.UtcNow);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("VM {VmId}: could not apply {Targets} ({Error}); trying again next period", vm.VmId, targets, e.Message);
        }
    }

    /// <summary>
    /// With deflate-on-oom the guest takes balloon pages back when it runs out of memory, holding more
    /// than it was assigned. QEMU keeps the target but the driver does not inflate again by itself: the
    /// target is sent again, so the guest holds more than its share for at most a few seconds. Its
    /// demand (from what it really holds) lets the balancer give it more if the host can.
    /// </summary>
    private bool DeflatedOnItsOwn(QemuGuest guest)
    {
        if (guest is not { Applied: { } applied, LastReading: { } reading }) return false;
        int deflatedMb = applied.BalloonMb - reading.BalloonedMb;
        // The balloon needs a moment to reach a new target; only a shortfall that outlasts it counts.
        if (deflatedMb <= VmConfig.PageMb || DateTimeOffset.UtcNow - guest.AppliedAt < InflateGrace) return false;
        logger.LogWarning("VM {VmId}: the guest deflated its balloon by {DeflatedMb} MB (out of memory); asking for the target again", guest.VmId, deflatedMb);
        return true;
    }

    private static readonly TimeSpan InflateGrace = TimeSpan.FromSeconds(3);

    private void Begin(string vmId, Func<Task> work)
    {
        if (_work.TryGetValue(vmId, out var running) && !running.IsCompleted) return;
        _work[vmId] = Task.Run(work);
    }

    private async Task BootAsync(PlannedVm vm, CancellationToken cancellationToken)
    {
        try
        {
            _guests[vm.VmId] = await launcher.BootAsync(vm, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogError("VM {VmId} did not boot: {Error}", vm.VmId, e.Message);
            _failedBoots[vm.VmId] = (vm.BootId, $"the boot failed: {e.Message}");
        }
    }

    /// <summary>A clean stop: the guest shuts itself down (flushing its disk); QEMU is told to quit after the timeout, and killed after that.</summary>
    private async Task StopAsync(QemuGuest guest)
    {
        guest.Stopping = true;
        logger.LogInformation("VM {VmId}: stopping (boot {BootId}, pid {Pid})", guest.VmId, guest.Boot.BootId, guest.Pid);
        using (var ask = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            try { await guest.GuestAgent.ShutdownAsync(ask.Token); } catch (Exception) { }
            try { await guest.Qmp.ExecuteAsync("system_powerdown", null, ask.Token); } catch (Exception) { }
        }
        if (!await ExitedWithinAsync(guest, options.ShutdownTimeout))
        {
            logger.LogWarning("VM {VmId} did not shut down within {Seconds:0} s: quitting QEMU", guest.VmId, options.ShutdownTimeout.TotalSeconds);
            try { await guest.Qmp.ExecuteAsync("quit"); } catch (Exception) { }
            if (!await ExitedWithinAsync(guest, TimeSpan.FromSeconds(3)))
                try { System.Diagnostics.Process.GetProcessById(guest.Pid).Kill(); } catch (Exception) { }
        }
        Remove(guest);
        logger.LogInformation("VM {VmId} stopped", guest.VmId);
    }

    private static async Task<bool> ExitedWithinAsync(QemuGuest guest, TimeSpan limit)
    {
        var deadline = DateTimeOffset.UtcNow + limit;
        while (guest.IsAlive)
        {
            if (DateTimeOffset.UtcNow > deadline) return false;
            await Task.Delay(100);
        }
        return true;
    }

    private void Remove(QemuGuest guest)
    {
        if (_guests.TryGetValue(guest.VmId, out var current) && ReferenceEquals(current, guest)) _guests.TryRemove(guest.VmId, out _);
        guest.Forget();
        _ = guest.DisposeAsync().AsTask();
    }

    public async Task<GuestExecResult> Exec(string vmId, IReadOnlyList<string> argv, TimeSpan timeout)
    {
        if (!_guests.TryGetValue(vmId, out var guest) || guest.Stopping || guest.CrashReason is not null)
            throw new HvRuleException("vm-must-be-running", $"VM {vmId} has no running guest on host {options.HostId}.");
        try
        {
            return await guest.GuestAgent.ExecAsync(argv, timeout);
        }
        catch (QemuCommandException e)
        {
            throw new HvRuleException("guest-exec", $"The guest refused '{argv[0]}': {e.Message}");
        }
        catch (TimeoutException e)
        {
            throw new HvRuleException("guest-exec-timeout", e.Message);
        }
        catch (IOException e)
        {
            throw new HvRuleException("guest-agent", $"VM {vmId}'s guest agent is not reachable: {e.Message}");
        }
    }

    public Task<GuestCapture> Capture(string vmId, GuestCaptureRequest request) =>
        OnGuestAsync(vmId, guest => _backups.CaptureAsync(guest, request, CancellationToken.None));

    public Task<PointInTime> PointInTime(string vmId, string jobId) =>
        OnGuestAsync(vmId, guest => _backups.PointInTimeAsync(guest, jobId, CancellationToken.None));

    public Task<long> Upload(string vmId, ChunkUpload upload) =>
        OnGuestAsync(vmId, guest => _backups.UploadAsync(guest, upload, CancellationToken.None));

    public Task<DiskBackup> Commit(string vmId, DiskCommit commit) =>
        OnGuestAsync(vmId, guest => _backups.CommitAsync(guest, commit, CancellationToken.None));

    public async Task Release(string vmId, string jobId, string? parentBitmap, bool committed)
    {
        // A guest that stopped or crashed since holds no QEMU state of the job; its files go all the same.
        var guest = _guests.TryGetValue(vmId, out var g) && g is { Stopping: false, CrashReason: null } ? g : null;
        try
        {
            await _backups.ReleaseAsync(guest, Path.Combine(options.RunDirectoryOrDefault, vmId), jobId, parentBitmap, committed, CancellationToken.None);
        }
        catch (QemuCommandException e)
        {
            throw new HvRuleException("backup-release", $"VM {vmId}: QEMU refused to end backup job {jobId}: {e.Message}");
        }
    }

    public async Task<IReadOnlyList<RestoredDisk>> Restore(string newVmId, IReadOnlyList<DiskRestore> disks)
    {
        Rule.Require(!_guests.ContainsKey(newVmId), "restore-to-new-vm", $"VM {newVmId} runs on host {options.HostId}; a backup restores into a new VM.");
        return await _restorer.RestoreAsync(Path.Combine(options.RunDirectoryOrDefault, newVmId), disks, CancellationToken.None);
    }

    public Task RemoveVm(string vmId)
    {
        Rule.Require(!_guests.ContainsKey(vmId), "vm-must-be-stopped", $"VM {vmId}'s guest still runs on host {options.HostId}; stop it first.");
        string folder = Path.Combine(options.RunDirectoryOrDefault, vmId);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        return Task.CompletedTask;
    }

    /// <summary>A backup step on a running guest; QEMU's refusals become rule errors naming the VM.</summary>
    private async Task<T> OnGuestAsync<T>(string vmId, Func<QemuGuest, Task<T>> step)
    {
        if (!_guests.TryGetValue(vmId, out var guest) || guest.Stopping || guest.CrashReason is not null)
            throw new HvRuleException("vm-must-be-running", $"VM {vmId} has no running guest on host {options.HostId}.");
        try
        {
            return await step(guest);
        }
        catch (QemuCommandException e)
        {
            throw new HvRuleException("backup-qemu", $"VM {vmId}: QEMU refused a backup step: {e.Message}");
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // The agent's own end stops no guest: they run on, and the next agent re-attaches.
        await base.StopAsync(cancellationToken);
        await DropClientAsync();
    }
}
