using HvOrleans.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace HvOrleans.Grains;

public sealed class HostGrain(
    IGrainContext context,
    [FromKeyedServices(GrainStorage.Name)] IGrainStorage storage,
    IOptions<BalancerOptions> balancer,
    ILogger<HostGrain> logger) : Grain, IHostGrain
{
    // Written on most ticks: through the provider itself, not Orleans' queued bridge (see DirectGrainState).
    private readonly DirectGrainState<HostState> _state = new("host", context.GrainId, storage, logger);

    public const int DefaultReserveMb = 1024;
    private const int LargestHostMb = 64 * 1_048_576;

    /// <summary>An agent silent for this long is shown as disconnected; its guests keep their memory.</summary>
    private static readonly TimeSpan AgentSilence = TimeSpan.FromSeconds(5);

    /// <summary>Below the cluster's call timeout, so the agent's answer gets back before the caller gives up.</summary>
    public static readonly TimeSpan MaxExecTime = TimeSpan.FromSeconds(25);

    // A real host's volatile view: what each guest said last, and where its agent is. Lost with the
    // activation and back within a second, when the agent next syncs.
    private readonly Dictionary<string, (GuestReport Report, DateTimeOffset At)> _guests = new(StringComparer.Ordinal);
    private IHostAgent? _agent;
    private DateTimeOffset _agentSeenAt;

    // The host's VMs as the balancing engine works on them (VmId order), kept between calls for as long
    // as the state is the one they show: a tick's reports and passes then cost no records per VM.
    private BalancingHost? _engine;
    private HostState? _engineOf;
    private readonly Dictionary<string, int> _slotOf = new(StringComparer.Ordinal);
    private string[]? _batchIds;
    private BalancingHost? _batchEngine;
    private int[] _batchSlots = [];

    // After a demand batch the slots may run ahead of the state (see ReportAndBalance): whatever reads
    // the host's VMs brings the state level first, in memory; a host's own figures are never behind.
    private bool _reportsAhead;

    // What this silo's metrics show of the host (HostMetrics), set on activation.
    private HostMetrics.Publication? _published;

    private string HostId => this.GetPrimaryKeyString();
    private HostState Host => _reportsAhead ? Level() : _state.State;
    private bool IsReal => _state.State.Driver == HostDriver.Qemu;
    private string PolicyName => Host.PolicyName(balancer.Value.DefaultPolicy);
    private bool AgentConnected => IsReal && _agent is not null && DateTimeOffset.UtcNow - _agentSeenAt < AgentSilence;

    /// <summary>A host that exists always has its balancer running: whoever activates the host heals a balancer that was lost.</summary>
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await _state.ReadStateAsync();
        _published = HostMetrics.Register(HostId, Host);
        if (Host.Exists) _ = WakeBalancerAsync();
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_published is not null) HostMetrics.Unregister(HostId, _published);
        return Task.CompletedTask;
    }

    private async Task WakeBalancerAsync()
    {
        try { await GrainFactory.GetGrain<IHostBalancerGrain>(HostId).Wake(); }
        catch (Exception e) { logger.LogWarning(e, "Host {HostId}: its balancer could not be woken; its reminder or the next activation will", HostId); }
    }

    public async Task<HostInfo> Add(int memoryMb, int reserveMb)
    {
        ResourceNames.Validate("host", HostId);
        Rule.Require(memoryMb is > 0 and <= LargestHostMb && memoryMb % VmConfig.PageMb == 0, "host-memory-size",
            $"Host memory must be a positive multiple of {VmConfig.PageMb} MB up to {LargestHostMb} MB; got {memoryMb}.");
        Rule.Require(reserveMb >= 0 && reserveMb < memoryMb && reserveMb % VmConfig.PageMb == 0, "host-reserve-size",
            $"Host reserve must be a multiple of {VmConfig.PageMb} MB from 0 to less than its memory ({memoryMb} MB); got {reserveMb}.");
        if (Host.Exists)
            Rule.Require(Host.MemoryMb == memoryMb && Host.ReserveMb == reserveMb, "host-exists",
                $"Host {HostId} exists with {Host.MemoryMb} MB memory and {Host.ReserveMb} MB reserve; asked {memoryMb} and {reserveMb}.");
        else
        {
            await SaveAsync(Host with { MemoryMb = memoryMb, ReserveMb = reserveMb });
            logger.LogInformation("Host {HostId} added: {MemoryMb} MB, {ReserveMb} MB reserved", HostId, memoryMb, reserveMb);
        }
        // Awaited, also when the host exists: an add whose wake-up failed fails, and its retry wakes the balancer.
        await GrainFactory.GetGrain<IHostBalancerGrain>(HostId).Wake();
        // Likewise awaited: the fleet page and the API list what the directory holds.
        await GrainFactory.GetGrain<IFleetGrain>(0).RegisterHost(HostId);
        return Info();
    }

    public Task<HostInfo> GetInfo()
    {
        RequireHost();
        return Task.FromResult(Info());
    }

    public async Task<VmInfo> CreateVm(string vmId, VmConfig config, VmDisks? disks = null)
    {
        ResourceNames.Validate("vm", vmId);
        config.Validate();
        disks = (disks ?? VmDisks.Default).Validate();
        RequireHost();
        if (Host.Vms.TryGetValue(vmId, out var existing))
        {
            Rule.Require(existing.Config == config && existing.DataDisks == disks, "vm-exists",
                $"VM {vmId} exists on host {HostId} with {existing.Config}, disks {existing.DataDisks}.");
            return VmInfo(vmId);
        }
        await SaveAsync(Host with { Vms = Host.Vms.Add(vmId, new HostedVm(config, VmMemory.Stopped, Disks: disks == VmDisks.Default ? null : disks)) });
        logger.LogInformation("VM {VmId} created on host {HostId}: {Config}, disks {Disks}", vmId, HostId, config, disks);
        return VmInfo(vmId);
    }

    public async Task<HostInfo> Provision(IReadOnlyList<VmPlacement> vms)
    {
        RequireHost();
        foreach (var vm in vms)
        {
            ResourceNames.Validate("vm", vm.VmId);
            vm.Config.Validate();
            Rule.Require(!Host.Vms.ContainsKey(vm.VmId) && vms.Count(v => v.VmId == vm.VmId) == 1, "vm-exists",
                $"VM {vm.VmId} exists on host {HostId} or is named twice.");
        }
        var booted = BalancingPass.BootInTurn(Host.CapacityMb, Host.Balancing(), vms);
        await SaveWithinCapacityAsync(Host with { Vms = HostedVms.Of(booted.Select(v => KeyValuePair.Create(v.VmId, new HostedVm(v.Config, v.Memory)))) });
        return Info();
    }

    public Task<VmInfo> GetVm(string vmId)
    {
        RequireVm(vmId);
        return Task.FromResult(VmInfo(vmId));
    }

    public Task<IReadOnlyList<VmInfo>> GetVms()
    {
        RequireHost();
        return Task.FromResult<IReadOnlyList<VmInfo>>(Host.Vms.Keys.Order(StringComparer.Ordinal).Select(VmInfo).ToList());
    }

    public async Task<VmInfo> ConfigureVm(string vmId, VmConfigChange change)
    {
        var vm = RequireVm(vmId);
        var next = vm.Config.ValidateChangeTo(change.ApplyTo(vm.Config), vm.Memory.Running);
        if (next == vm.Config) return VmInfo(vmId);
        await SaveAsync(Host with { Vms = Host.Vms.SetItem(vmId, vm with { Config = next }) });
        logger.LogInformation("VM {VmId} reconfigured: {Config}", vmId, next);
        return VmInfo(vmId);
    }

    public async Task<VmInfo> StartVm(string vmId)
    {
        var vm = RequireVm(vmId);
        if (vm.Memory.Running) return VmInfo(vmId);
        int neededMb = vm.Config.StartupMb;
        var others = Host.Balancing().Where(v => v.VmId != vmId).ToList();
        long freeMb = Host.CapacityMb - Host.AssignedMb;
        var room = BalancingPass.MakeRoom(freeMb, neededMb, others);
        if (room is null)
        {
            long freeableMb = others.Where(v => v.IsBalanced).Sum(v => (long)v.Memory.AssignedMb - v.Memory.LowestReachableMb(v.Config));
            throw new HvRuleException("host-capacity",
                $"Cannot start VM {vmId}: it needs StartupMb {neededMb}; host {HostId} has {freeMb} MB free " +
                $"and ballooning its other VMs to their floors would free only {freeableMb} MB more.");
        }
        var booted = Host.WithMemories(room);
        await SaveWithinCapacityAsync(booted with
        {
            Vms = booted.Vms.SetItem(vmId, vm with { Memory = VmMemory.Boot(vm.Config), BootId = vm.BootId + 1, CrashReason = null }),
        });
        logger.LogInformation("VM {VmId} started on host {HostId} with {StartupMb} MB", vmId, HostId, neededMb);
        return VmInfo(vmId);
    }

    public async Task<VmInfo> StopVm(string vmId)
    {
        var vm = RequireVm(vmId);
        if (!vm.Memory.Running) return VmInfo(vmId);
        Rule.Require(vm.BackupJob is null, "vm-backup-running",
            $"VM {vmId} is being backed up by job {vm.BackupJob}; its point-in-time copy lives in the running guest. Wait for the job, or cancel it: hv backup cancel {vm.BackupJob}.");
        await SaveAsync(Host.WithMemory(vmId, VmMemory.Stopped));
        logger.LogInformation("VM {VmId} stopped", vmId);
        return VmInfo(vmId);
    }

    public async Task<VmInfo> ReportDemand(string vmId, int demandMb)
    {
        var vm = RequireVm(vmId);
        RequireModelled(vmId);
        var next = vm.Memory.WithDemand(demandMb);
        if (next != vm.Memory) await SaveAsync(Host.WithMemory(vmId, next));
        return VmInfo(vmId);
    }

    public Task ReportDemands(IReadOnlyList<VmDemand> demands)
    {
        HoldReports([.. demands.Select(d => d.VmId)], [.. demands.Select(d => d.DemandMb)]);
        Level();
        return Task.CompletedTask;
    }

    public async Task<BatchBalancing> ReportAndBalance(DemandBatch demands, string policy, int maxPasses)
    {
        Rule.Require(maxPasses is >= 1 and <= 1000, "passes-1-to-1000", $"A tick runs 1..1000 passes; got {maxPasses}.");
        Rule.Require(demands.VmIds.Length == demands.DemandMb.Length, "demand-batch-shape",
            $"A demand batch gives one demand per VM; got {demands.VmIds.Length} VMs and {demands.DemandMb.Length} demands.");
        var balancing = BalancingPolicies.ByName(policy);
        var engine = HoldReports(demands.VmIds, demands.DemandMb);
        int changed = await DecideCoreAsync(engine, balancing, maxPasses, holdReports: true);
        var (resized, assignedMb, highWaterMb) = (new int[changed], new int[changed], new int[changed]);
        var changedSlots = engine.Changed(changed);
        for (int k = 0; k < changed; k++)
        {
            int i = resized[k] = changedSlots[k];
            (assignedMb[k], highWaterMb[k]) = (engine.Vms[i].AssignedMb, engine.Vms[i].HighWaterMb);
        }
        return new BatchBalancing(engine.VmIds, resized, assignedMb, highWaterMb, engine.AssignedMb);
    }

    /// <summary>Where each VM of a batch sits in the engine: looked up once for a caller that sends the same ids array again.</summary>
    private int[] SlotsOf(BalancingHost engine, string[] vmIds)
    {
        if (ReferenceEquals(vmIds, _batchIds) && ReferenceEquals(engine, _batchEngine)) return _batchSlots;
        var slots = new int[vmIds.Length];
        for (int k = 0; k < vmIds.Length; k++) slots[k] = SlotOf(vmIds[k]);
        (_batchIds, _batchEngine, _batchSlots) = (vmIds, engine, slots);
        return slots;
    }

    /// <summary>
    /// Reports are volatile (a guest sends one a second): held in the engine's slots, and in the state
    /// in memory, persisted with the next resize. All or none: every report is checked before any is held.
    /// </summary>
    private BalancingHost HoldReports(string[] vmIds, int[] demandsMb)
    {
        RequireHost();
        if (vmIds.Length > 0) RequireModelled(vmIds[0]);
        var engine = Engine();
        var slots = SlotsOf(engine, vmIds);
        for (int k = 0; k < slots.Length; k++) VmMemory.RequireDemand(engine.Vms[slots[k]].Running, demandsMb[k]);
        _engineOf = null;   // the slots now run ahead of the state, until the caller brings the state level
        for (int k = 0; k < slots.Length; k++) engine.Vms[slots[k]].ReportDemand(demandsMb[k]);
        return engine;
    }

    public async Task<HostInfo> RegisterAgent(AgentRegistration registration)
    {
        Rule.Require(registration.Accel is "kvm" or "tcg", "accel-kvm-or-tcg", $"An agent runs guests with kvm or tcg; got '{registration.Accel}'.");
        if (Host.Exists)
            Rule.Require(IsReal, "host-driver", $"Host {HostId} was added with 'hv host add' and runs modelled guests; an agent needs a host of its own.");
        await Add(registration.MemoryMb, registration.ReserveMb);
        if (!IsReal || Host.Accel != registration.Accel)
        {
            await SaveAsync(Host with { Driver = HostDriver.Qemu, Accel = registration.Accel });
            logger.LogInformation("Host {HostId}: agent on {Machine} runs its guests ({Accel})", HostId, registration.Machine, registration.Accel);
        }
        return Info();
    }

    public async Task<HostPlan> SyncGuests(HostSync sync)
    {
        RequireHost();
        Rule.Require(IsReal, "host-driver", $"Host {HostId} runs modelled guests; only an agent's host syncs guests.");
        (_agent, _agentSeenAt) = (sync.Agent, DateTimeOffset.UtcNow);
        var next = Host;
        bool crashed = false;
        foreach (var report in sync.Guests)
        {
            // A guest of a VM deleted, stopped or started again since is the agent's to stop, not news.
            if (!Host.Vms.TryGetValue(report.VmId, out var vm) || vm.BootId != report.BootId || !vm.Memory.Running)
            {
                _guests.Remove(report.VmId);
                continue;
            }
            _guests[report.VmId] = (report, DateTimeOffset.UtcNow);
            if (report.State == GuestRunState.Crashed)
            {
                next = next with { Vms = next.Vms.SetItem(report.VmId, vm with { Memory = VmMemory.Stopped, CrashReason = report.CrashReason ?? "the QEMU process ended" }) };
                crashed = true;
                logger.LogWarning("VM {VmId} on host {HostId} crashed: {Reason}", report.VmId, HostId, report.CrashReason);
            }
            else if (report is { State: GuestRunState.Running, Stats: { } stats })
            {
                int demandMb = RealGuestMemory.DemandMb(vm.Config.StartupMb, report.PluggedMb, report.BalloonedMb, stats.AvailableMb);
                next = next.WithMemory(report.VmId, vm.Memory.WithDemand(demandMb));
            }
        }
        if (crashed) await SaveAsync(next);
        else Hold(next);
        // A pass on every sync, as Hyper-V balances on each guest's report: the agent then carries the
        // decision back in this answer instead of a balancer period and a sync later. The balancer's own
        // timer still runs (a host whose agent is silent keeps being balanced); a converged pass writes nothing.
        if (sync.Guests.Count > 0) await BalanceAsync(BalancingPolicies.ByName(PolicyName), maxPasses: 1);
        return new HostPlan(Host.Vms.Select(e => new PlannedVm(e.Key, e.Value.BootId, e.Value.Memory.Running, e.Value.Config,
            e.Value.Memory.AssignedMb, e.Value.Memory.HighWaterMb, e.Value.DataDisks)).ToList());
    }

    public async Task<GuestExecResult> ExecInGuest(string vmId, IReadOnlyList<string> argv, TimeSpan timeout)
    {
        var vm = RequireVm(vmId);
        Rule.Require(IsReal, "vm-real-guest", $"VM {vmId} is a modelled guest on host {HostId}; only real guests run commands.");
        Rule.Require(vm.Memory.Running, "vm-must-be-running", $"VM {vmId} is not running; start it with 'hv vm start {vmId}'.");
        Rule.Require(argv.Count > 0 && argv[0].Length > 0, "exec-command", "Give the command to run after '--'.");
        Rule.Require(timeout > TimeSpan.Zero && timeout <= MaxExecTime, "exec-timeout",
            $"A guest command runs for up to {MaxExecTime.TotalSeconds:0} s; got {timeout.TotalSeconds:0.###} s.");
        Rule.Require(AgentConnected, "agent-connected",
            $"Host {HostId}'s agent has not synced for {AgentSilence.TotalSeconds:0} s; is it running? (infra/agent.sh status)");
        return await _agent!.Exec(vmId, argv, timeout);   // AgentConnected: not null
    }

    public async Task DeleteVm(string vmId)
    {
        RequireHost();
        if (!Host.Vms.TryGetValue(vmId, out var vm)) return;
        Rule.Require(IsReal, "vm-delete-real-only",
            $"VM {vmId} is a modelled guest; deleting one is not supported yet (its disk grain and page blob would outlive it).");
        Rule.Require(!vm.Memory.Running, "vm-must-be-stopped", $"VM {vmId} is running; stop it first: hv vm stop {vmId}.");
        Rule.Require(vm.BackupJob is null, "vm-backup-running", $"VM {vmId} is being backed up by job {vm.BackupJob}.");
        Rule.Require(AgentConnected, "agent-connected",
            $"VM {vmId}'s disks are on host {HostId}'s agent, which has not synced for {AgentSilence.TotalSeconds:0} s; is it running? (infra/agent.sh status)");
        await _agent!.RemoveVm(vmId);
        await SaveAsync(Host with { Vms = Host.Vms.Remove(vmId) });
        _guests.Remove(vmId);
        logger.LogInformation("VM {VmId} deleted from host {HostId}", vmId, HostId);
    }

    public async Task<VmDisks> AcquireBackup(string vmId, string jobId)
    {
        var vm = RequireVm(vmId);
        if (vm.BackupJob == jobId) return vm.DataDisks;
        Rule.Require(IsReal, "vm-real-guest", $"VM {vmId} is a modelled guest; its disk is backed up by its disk grain.");
        Rule.Require(vm.BackupJob is null, "vm-backup-running", $"VM {vmId} is being backed up by job {vm.BackupJob}.");
        Rule.Require(vm.Memory.Running, "vm-must-be-running",
            $"VM {vmId} is off: a real VM is backed up live, from its running guest (start it with 'hv vm start {vmId}').");
        await SaveAsync(Host with { Vms = Host.Vms.SetItem(vmId, vm with { BackupJob = jobId }) });
        return vm.DataDisks;
    }

    public async Task ReleaseBackup(string vmId, string jobId)
    {
        if (Host.Vms.TryGetValue(vmId, out var vm) && vm.BackupJob == jobId)
            await SaveAsync(Host with { Vms = Host.Vms.SetItem(vmId, vm with { BackupJob = null }) });
    }

    public Task<IHostAgent?> GetAgent() => Task.FromResult(AgentConnected ? _agent : null);

    public Task<BalancingReport> Balance(string policy)
    {
        RequireHost();
        return BalanceAsync(BalancingPolicies.ByName(policy), maxPasses: 1);
    }

    public Task<BalancingReport> BalanceByItsPolicy() => Balance(PolicyName);

    public async Task<HostInfo> SetPolicy(string policy)
    {
        RequireHost();
        string name = BalancingPolicies.ByName(policy).Name;
        if (name != Host.Policy)
        {
            await SaveAsync(Host with { Policy = name });
            logger.LogInformation("Host {HostId}: its balancer runs policy {Policy}", HostId, name);
        }
        return Info();
    }

    private Task<BalancingReport> BalanceAsync(IBalancingPolicy policy, int maxPasses) => DecideAsync(Engine(), policy, maxPasses);

    /// <summary>
    /// Passes over the engine's slots, then the state they show: reports held in memory, and written
    /// with the VMs' new memory when a pass resized anything (a converged host writes nothing).
    /// </summary>
    private async Task<BalancingReport> DecideAsync(BalancingHost engine, IBalancingPolicy policy, int maxPasses)
    {
        int changed = await DecideCoreAsync(engine, policy, maxPasses);
        return new BalancingReport(HostId, Host.CapacityMb, engine.AssignedMb, engine.Resizes(changed));
    }

    /// <summary>
    /// The passes and the write; returns how many VMs they resized (<see cref="BalancingHost.Changed"/>).
    /// <paramref name="holdReports"/>: the state takes only the resized VMs (their reports with them); the
    /// others' reports stay in the slots, volatile as reports are, until a read levels the state or the VM
    /// is resized — a host reported whole every tick then builds a handful of records a tick, not one per VM.
    /// </summary>
    private async Task<int> DecideCoreAsync(BalancingHost engine, IBalancingPolicy policy, int maxPasses, bool holdReports = false)
    {
        (_engineOf, _reportsAhead) = (null, false);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        int changed = engine.Converge(policy, _state.State.CapacityMb, maxPasses);
        var decided = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        var next = holdReports ? StateOf(engine, engine.Changed(changed)) : StateOf(engine);
        if (changed > 0) await SaveWithinCapacityAsync(next, engine.AssignedMb);
        else Hold(next);
        (_engineOf, _reportsAhead) = (next, holdReports);   // written (or held): the slots and the state agree again, or run ahead by reports only
        BalancerMetrics.RecordPass(engine, changed, decided);
        return changed;
    }

    /// <summary>The state with every report the slots hold, without a write (reports are volatile).</summary>
    private HostState Level()
    {
        _reportsAhead = false;
        Hold(_engineOf = StateOf(_engine!));
        return _state.State;
    }

    /// <summary>
    /// The engine over the current state: kept while the state is the one it was read from or left. Its
    /// slots are in the state's VM order (ordinal ids), so slot i is the state's VM at position i.
    /// </summary>
    private BalancingHost Engine()
    {
        if (_engine is not null && ReferenceEquals(_engineOf, _state.State)) return _engine;
        var vms = Host.Vms;
        var (ids, slots) = (new string[vms.Count], new VmSlot[vms.Count]);
        _slotOf.Clear();
        for (int i = 0; i < vms.Count; i++)
        {
            ids[i] = vms.IdAt(i);
            slots[i] = VmSlot.Of(vms.ConfigAt(i), vms.MemoryAt(i).ToMemory());
            _slotOf[ids[i]] = i;
        }
        _engine = new BalancingHost(ids, slots) { ReserveMb = Host.ReserveMb };
        _engineOf = _state.State;
        return _engine;
    }

    private int SlotOf(string vmId) => _slotOf.TryGetValue(vmId, out int i) ? i
        : throw new HvRuleException("vm-must-exist", $"VM {vmId} does not exist on host {HostId}.");

    /// <summary>The state with each VM whose slot differs from it (a report held, a resize) as the slot says.</summary>
    private HostState StateOf(BalancingHost engine)
    {
        HostedVms.Builder? vms = null;
        for (int i = 0; i < engine.Count; i++) TakeSlot(engine, i, ref vms);
        return vms is null ? _state.State : _state.State with { Vms = vms.ToImmutable() };
    }

    /// <summary>The state with the given slots' VMs as the slots say.</summary>
    private HostState StateOf(BalancingHost engine, ReadOnlySpan<int> slots)
    {
        HostedVms.Builder? vms = null;
        foreach (int i in slots) TakeSlot(engine, i, ref vms);
        return vms is null ? _state.State : _state.State with { Vms = vms.ToImmutable() };
    }

    private void TakeSlot(BalancingHost engine, int i, ref HostedVms.Builder? vms)
    {
        var memory = StoredMemory.Of(engine.Vms[i]);
        var stored = _state.State.Vms;
        if (memory == stored.MemoryAt(i)) return;
        // Slot i is the state's VM i while the engine is the state's (Engine): the same id instance, not only an equal one.
        if (!ReferenceEquals(stored.IdAt(i), engine.VmIds[i]))
            throw new InvalidOperationException($"Host {HostId}: slot {i} ({engine.VmIds[i]}) is not the state's VM {stored.IdAt(i)}.");
        vms ??= stored.ToBuilder();
        vms.SetMemoryAt(i, memory);
    }

    /// <summary>Refuses, persisting nothing, any state that would assign more than memory − reserve.</summary>
    private Task SaveWithinCapacityAsync(HostState next, long? assignedMb = null)
    {
        long nextAssignedMb = assignedMb ?? next.AssignedMb;
        Rule.Require(nextAssignedMb <= next.CapacityMb, "host-capacity",
            $"Host {HostId} would assign {nextAssignedMb} MB but has only {next.CapacityMb} MB (memory {next.MemoryMb} − reserve {next.ReserveMb}).");
        return SaveAsync(next);
    }

    /// <summary>
    /// Every change of the state goes through here or <see cref="Hold"/>, on the grain's turn, so the
    /// silo's metrics show the host as it now is (read when scraped; grain state cannot be read then).
    /// Not a grain call filter: that would cost every call, reads and the simulator's ticks included.
    /// </summary>
    private async Task SaveAsync(HostState next)
    {
        await _state.SaveAsync(next);
        _published?.Show(next);
    }

    /// <summary>The state in memory only (reports, volatile), published like a write.</summary>
    private void Hold(HostState next)
    {
        _state.State = next;
        _published?.Show(next);
    }

    private void RequireHost() =>
        Rule.Require(_state.State.Exists, "host-must-exist", $"Host {HostId} does not exist; add it with 'hv host add'.");

    private HostedVm RequireVm(string vmId)
    {
        RequireHost();
        return Host.Vms.TryGetValue(vmId, out var vm) ? vm
            : throw new HvRuleException("vm-must-exist", $"VM {vmId} does not exist on host {HostId}.");
    }

    /// <summary>A real guest's demand comes from the guest itself; an operator's word would be overwritten within a second.</summary>
    private void RequireModelled(string vmId) =>
        Rule.Require(!IsReal, "demand-from-guest",
            $"VM {vmId} is a real guest on host {HostId}: its demand comes from the guest's own statistics (load it with 'hv vm exec {vmId} -- memload MB').");

    private VmInfo VmInfo(string vmId)
    {
        var vm = Host.Vms[vmId];
        var snapshot = new VmSnapshot(vmId, HostId, vm.Config, vm.Memory);
        if (!IsReal) return HvOrleans.VmInfo.Of(snapshot);
        var seen = _guests.TryGetValue(vmId, out var g) && g.Report.BootId == vm.BootId ? g : default;
        var real = seen.Report is { } r ? new RealGuestView(r.State, r.Pid, r.StartedAt, r.BalloonedMb, r.PluggedMb, seen.At) : null;
        return HvOrleans.VmInfo.OfReal(snapshot, real, seen.Report?.Stats, vm.CrashReason) with { BackupJob = vm.BackupJob };
    }

    private HostInfo Info() => new(HostId, Host.MemoryMb, Host.ReserveMb,
        Host.Vms.ToDictionary(e => e.Key, e => e.Value.Memory.AssignedMb), Host.Driver, Host.Accel,
        AgentConnected, PolicyName);
}
