namespace HvOrleans.Grains;

public sealed class VmGrain(
    [PersistentState("vm", GrainStorage.Name)] IPersistentState<VmState> state,
    ILogger<VmGrain> logger) : Grain, IVmGrain
{
    private string VmId => this.GetPrimaryKeyString();
    private VmConfig Config => state.State.Config!;
    private VmMemory Memory => state.State.Memory;

    public async Task<VmInfo> Create(string hostId, VmConfig config)
    {
        ResourceNames.Validate("vm", VmId);
        config.Validate();
        if (state.State.Exists)
        {
            Rule.Require(state.State.HostId == hostId && Config == config, "vm-exists",
                $"VM {VmId} exists on host {state.State.HostId} with {Config}.");
            return VmInfo.Of(Snapshot());
        }
        await GrainFactory.GetGrain<IHostGrain>(hostId).AddVm(VmId);
        await SaveAsync(new VmState(hostId, config, VmMemory.Stopped, state.State.Version));
        logger.LogInformation("VM {VmId} created on host {HostId}: {Config}", VmId, hostId, config);
        return await NotifyBalancerAsync();
    }

    public async Task<VmInfo> Configure(VmConfigChange change)
    {
        RequireExists();
        var next = Config.ValidateChangeTo(change.ApplyTo(Config), Memory.Running);
        if (next == Config) return VmInfo.Of(Snapshot());
        await SaveAsync(state.State with { Config = next });
        logger.LogInformation("VM {VmId} reconfigured: {Config}", VmId, next);
        return await NotifyBalancerAsync();
    }

    public async Task<VmInfo> ReportDemand(int demandMb)
    {
        RequireExists();
        var next = Memory.WithDemand(demandMb);
        if (next == Memory) return VmInfo.Of(Snapshot());
        await SaveAsync(state.State with { Memory = next });
        return await NotifyBalancerAsync();
    }

    public async Task<VmInfo> Stop()
    {
        RequireExists();
        if (!Memory.Running) return VmInfo.Of(Snapshot());
        await SaveAsync(state.State with { Memory = VmMemory.Stopped });
        logger.LogInformation("VM {VmId} stopped", VmId);
        return await NotifyBalancerAsync();
    }

    public Task<VmInfo> GetInfo()
    {
        RequireExists();
        return Task.FromResult(VmInfo.Of(Snapshot()));
    }

    public Task<VmSnapshot> GetSnapshot()
    {
        RequireExists();
        return Task.FromResult(Snapshot());
    }

    public async Task<VmSnapshot> Boot()
    {
        RequireExists();
        if (Memory.Running) return Snapshot();
        await SaveAsync(state.State with { Memory = VmMemory.Boot(Config) });
        logger.LogInformation("VM {VmId} booted with {AssignedMb} MB", VmId, Memory.AssignedMb);
        return Snapshot();
    }

    public async Task<VmSnapshot> Resize(int targetMb, int ceilingMb)
    {
        RequireExists();
        var next = Memory.ResizeTo(Config, targetMb, ceilingMb);
        if (next == Memory) return Snapshot();
        logger.LogDebug("VM {VmId} resized {BeforeMb} -> {AfterMb} MB (high-water {HighWaterMb} MB)",
            VmId, Memory.AssignedMb, next.AssignedMb, next.HighWaterMb);
        await SaveAsync(state.State with { Memory = next });
        return Snapshot();
    }

    private Task SaveAsync(VmState next) => state.SaveAsync(next with { Version = state.State.Version + 1 });

    private async Task<VmInfo> NotifyBalancerAsync()
    {
        var snapshot = Snapshot();
        await GrainFactory.GetGrain<IHostBalancerGrain>(state.State.HostId).VmChanged(snapshot);
        return VmInfo.Of(snapshot);
    }

    private VmSnapshot Snapshot() => new(VmId, state.State.HostId, state.State.Version, Config, Memory);

    private void RequireExists() =>
        Rule.Require(state.State.Exists, "vm-must-exist", $"VM {VmId} does not exist; create it with 'hv vm create'.");
}
