namespace HvOrleans.Grains;

public sealed class VmGrain([PersistentState("vm", GrainStorage.Name)] IPersistentState<VmState> state) : Grain, IVmGrain
{
    private string VmId => this.GetPrimaryKeyString();

    public async Task<VmInfo> Create(string hostId, VmConfig config, VmDisks? disks = null)
    {
        ResourceNames.Validate("vm", VmId);
        config.Validate();
        Rule.Require(!state.State.Exists || state.State.HostId == hostId, "vm-exists",
            $"VM {VmId} exists on host {state.State.HostId}.");
        // The host first: if it refuses (unknown host, other config) nothing is written here.
        var info = await GrainFactory.GetGrain<IHostGrain>(hostId).CreateVm(VmId, config, disks);
        if (!state.State.Exists) await state.SaveAsync(new VmState(hostId));
        return info;
    }

    public async Task<VmInfo> CreateRestored(string hostId, VmConfig config, long diskBytes, string operationId, VmDisks? disks = null)
    {
        if (disks is not null) return await CreateRestoredRealAsync(hostId, config, operationId, disks);
        var disk = GrainFactory.GetGrain<IGuestDiskGrain>(VmId);
        if (state.State.Exists)
        {
            Rule.Require(state.State.CreatedBy == operationId, "vm-exists", $"VM {VmId} exists on host {state.State.HostId}; restore to a new VM.");
            // The same restore again (its answer was lost): finish what it may not have, answer with the VM it made.
            await disk.Adopt(diskBytes);
            return await GetInfo();
        }
        var info = await GrainFactory.GetGrain<IHostGrain>(hostId).CreateVm(VmId, config);
        await state.SaveAsync(new VmState(hostId, operationId));
        await disk.Adopt(diskBytes);
        return info;
    }

    private async Task<VmInfo> CreateRestoredRealAsync(string hostId, VmConfig config, string operationId, VmDisks disks)
    {
        if (state.State.Exists)
        {
            Rule.Require(state.State.CreatedBy == operationId, "vm-exists", $"VM {VmId} exists on host {state.State.HostId}; restore to a new VM.");
            return await GetInfo();
        }
        var info = await GrainFactory.GetGrain<IHostGrain>(hostId).CreateVm(VmId, config, disks);
        await state.SaveAsync(new VmState(hostId, operationId));
        return info;
    }

    public Task<string?> CreatedBy() => Task.FromResult(state.State.CreatedBy);

    public Task<string> GetHostId()
    {
        Host();
        return Task.FromResult(state.State.HostId);
    }

    public Task<VmInfo> Configure(VmConfigChange change) => Host().ConfigureVm(VmId, change);
    public Task<VmInfo> ReportDemand(int demandMb) => Host().ReportDemand(VmId, demandMb);
    public Task<VmInfo> Start() => Host().StartVm(VmId);

    public async Task Delete()
    {
        if (!state.State.Exists) return;
        await Host().DeleteVm(VmId);
        await state.ClearStateAsync();
        state.State = new VmState();
    }
    public async Task<VmInfo> Stop()
    {
        var info = await Host().StopVm(VmId);
        await GrainFactory.GetGrain<IGuestDiskGrain>(VmId).ShutDown();   // after: a stop repeated after a crash syncs again, harmlessly
        return info;
    }
    public Task<VmInfo> GetInfo() => Host().GetVm(VmId);

    private IHostGrain Host()
    {
        Rule.Require(state.State.Exists, "vm-must-exist", $"VM {VmId} does not exist; create it with 'hv vm create'.");
        return GrainFactory.GetGrain<IHostGrain>(state.State.HostId);
    }
}
