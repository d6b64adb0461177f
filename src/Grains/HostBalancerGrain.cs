using Microsoft.Extensions.Options;

namespace HvOrleans.Grains;

public sealed class HostBalancerGrain(
    IOptions<BalancerOptions> options,
    ILogger<HostBalancerGrain> logger) : Grain, IHostBalancerGrain, IRemindable
{
    private const string ReminderName = "balance";

    // A cache of the host's VMs, kept current by their one-way notifications and by the replies to
    // this grain's own calls; re-read on activation, on every reminder tick and by BalanceNow.
    private readonly Dictionary<string, VmSnapshot> _vms = new(StringComparer.Ordinal);
    private HostInfo? _host;

    private string HostId => this.GetPrimaryKeyString();
    private IHostGrain Host => GrainFactory.GetGrain<IHostGrain>(HostId);
    private IVmGrain Vm(string vmId) => GrainFactory.GetGrain<IVmGrain>(vmId);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var period = options.Value.BalancingPeriod;
        await this.RegisterOrUpdateReminder(ReminderName, options.Value.ReminderPeriod, options.Value.ReminderPeriod);
        this.RegisterGrainTimer(RunPeriodicPassAsync, new GrainTimerCreationOptions(period, period) { KeepAlive = true });
    }

    public Task Wake() => Task.CompletedTask;

    public async Task VmChanged(VmSnapshot snapshot)
    {
        if (_vms.TryGetValue(snapshot.VmId, out var known) && known.Version >= snapshot.Version) return;
        _vms[snapshot.VmId] = snapshot;
        if (_host is null)
        {
            await RefreshAsync();
            return;
        }
        // A VM new to this cache was just added to the host's ledger: re-read the host alone, not every VM.
        if (!_host.AssignedMbByVm.ContainsKey(snapshot.VmId)) _host = await Host.GetInfo();
        int ledgerMb = _host.AssignedMbByVm.GetValueOrDefault(snapshot.VmId);
        // A stopped VM's memory goes back to the host only now that the VM has persisted its stop.
        if (!snapshot.Memory.Running && ledgerMb > 0)
            _host = await Host.SetAssignments(new Dictionary<string, int> { [snapshot.VmId] = 0 });
    }

    public async Task<VmInfo> StartVm(string vmId)
    {
        // The cache is kept current by notifications and replies, so a start costs no re-read of every
        // VM — unless it would be refused: then re-read once, in case a lost message left it stale.
        if (_host is null) await RefreshAsync();
        var vm = await Vm(vmId).GetSnapshot();
        Rule.Require(vm.HostId == HostId, "vm-on-host", $"VM {vmId} is on host {vm.HostId}, not {HostId}.");
        if (vm.Memory.Running) return VmInfo.Of(vm);
        int neededMb = vm.Config.StartupMb;
        var room = PlanRoom(vmId, neededMb);
        if (room is null)
        {
            await RefreshAsync();
            room = PlanRoom(vmId, neededMb);
        }
        if (room is null)
        {
            var others = Balancing().Where(v => v.VmId != vmId && v.IsBalanced);
            long freeableMb = others.Sum(v => (long)v.Memory.AssignedMb - v.Memory.LowestReachableMb(v.Config));
            throw new HvRuleException("host-capacity",
                $"Cannot start VM {vmId}: it needs StartupMb {neededMb}; host {HostId} has {_host!.AvailableMb} MB free " +
                $"and ballooning its other VMs to their floors would free only {freeableMb} MB more.");
        }
        await ApplyAsync(room);
        Rule.Require(_host!.AvailableMb >= neededMb, "host-capacity",
            $"Cannot start VM {vmId}: it needs StartupMb {neededMb}; host {HostId} freed only {_host.AvailableMb} MB.");
        _host = await Host.SetAssignments(new Dictionary<string, int> { [vmId] = neededMb });
        Remember(await Vm(vmId).Boot());
        logger.LogInformation("VM {VmId} started on host {HostId} with {StartupMb} MB", vmId, HostId, neededMb);
        return VmInfo.Of(_vms[vmId]);
    }

    public async Task<BalancingReport> BalanceNow()
    {
        await RefreshAsync();
        return await PassAsync();
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        try
        {
            await RefreshAsync();
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Balancer {HostId} could not re-read its VMs", HostId);
        }
    }

    private async Task RunPeriodicPassAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (_host is null) await RefreshAsync();
            await PassAsync();
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Balancing pass on host {HostId} failed; re-reading its VMs next period", HostId);
            _host = null;
        }
    }

    private async Task<BalancingReport> PassAsync()
    {
        var plan = BalancingPass.Run(HyperVPolicy.Instance, _host!.CapacityMb, Balancing());
        var applied = await ApplyAsync(plan);
        BalancerMetrics.RecordPass(applied);
        return new BalancingReport(HostId, _host.CapacityMb, _host.AssignedMb, applied);
    }

    /// <summary>
    /// Applies planned resizes: shrinks, then the ledger; the ledger's reservation, then grows. So
    /// the ledger covers every VM's memory at every persisted instant, and never exceeds capacity.
    /// </summary>
    private async Task<List<VmResize>> ApplyAsync(IReadOnlyList<VmResize> plan)
    {
        var applied = new List<VmResize>();
        var shrinks = plan.Where(r => r.DeltaMb < 0).ToList();
        if (shrinks.Count > 0)
        {
            var done = await Task.WhenAll(shrinks.Select(r => Vm(r.VmId).Resize(r.After.AssignedMb, r.Before.AssignedMb)));
            applied.AddRange(done.Select(s => Remember(s)));
            _host = await Host.SetAssignments(done.ToDictionary(s => s.VmId, s => s.Memory.AssignedMb));
        }
        var grows = plan.Where(r => r.DeltaMb > 0).ToList();
        if (grows.Count > 0)
        {
            _host = await Host.SetAssignments(grows.ToDictionary(r => r.VmId, r => r.After.AssignedMb));
            var done = await Task.WhenAll(grows.Select(r => Vm(r.VmId).Resize(r.After.AssignedMb, r.After.AssignedMb)));
            applied.AddRange(done.Select(s => Remember(s)));
            var unused = done.Where(s => s.Memory.AssignedMb != _host.AssignedMbByVm[s.VmId]).ToList();
            if (unused.Count > 0)
                _host = await Host.SetAssignments(unused.ToDictionary(s => s.VmId, s => s.Memory.AssignedMb));
        }
        return applied.Where(r => r.DeltaMb != 0).ToList();
    }

    private VmResize Remember(VmSnapshot after)
    {
        var before = _vms.TryGetValue(after.VmId, out var known) ? known.Memory : after.Memory;
        if (known is null || known.Version <= after.Version) _vms[after.VmId] = after;
        return new VmResize(after.VmId, before, after.Memory);
    }

    /// <summary>Re-reads the host and every VM, and heals ledger entries that differ from what the VMs hold.</summary>
    private async Task RefreshAsync()
    {
        var host = await Host.GetInfo();
        var snapshots = await Task.WhenAll(host.AssignedMbByVm.Keys.Select(TryGetSnapshotAsync));
        _vms.Clear();
        foreach (var s in snapshots.OfType<VmSnapshot>()) _vms[s.VmId] = s;
        // After a crash the ledger can hold a reservation whose VM never grew or booted; never less.
        int ActualMb(string vmId) => _vms.TryGetValue(vmId, out var s) ? s.Memory.AssignedMb : 0;
        var drift = host.AssignedMbByVm.Where(e => e.Value != ActualMb(e.Key)).ToDictionary(e => e.Key, e => ActualMb(e.Key));
        _host = drift.Count == 0 ? host : await Host.SetAssignments(drift);
        if (drift.Count > 0) logger.LogInformation("Host {HostId} ledger healed for {Count} VMs", HostId, drift.Count);
    }

    private async Task<VmSnapshot?> TryGetSnapshotAsync(string vmId)
    {
        try
        {
            return await Vm(vmId).GetSnapshot();
        }
        catch (HvRuleException e) when (e.Rule == "vm-must-exist")
        {
            return null; // its create did not finish: it holds nothing
        }
    }

    private IReadOnlyList<VmResize>? PlanRoom(string vmId, int neededMb) =>
        BalancingPass.MakeRoom(_host!.AvailableMb, neededMb, Balancing().Where(v => v.VmId != vmId).ToList());

    private List<BalancingVm> Balancing() => _vms.Values.Select(s => s.ToBalancing()).ToList();
}
