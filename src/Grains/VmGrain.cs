namespace HvOrleans.Grains;

public sealed class VmGrain(
    [PersistentState("vm", GrainStorage.Name)] IPersistentState<VmState> state) : Grain, IVmGrain
{
    private string VmId => this.GetPrimaryKeyString();

    public async Task<VmInfo> Create(string hostId, VmConfig config)
    {
        ResourceNames.Validate("vm", VmId);
        config.Validate();
        Rule.Require(!state.State.Exists || state.State.HostId == hostId, "vm-exists",
            $"VM {VmId} exists on host {state.State.HostId}.");
        // The host first: if it refuses (unknown host, other config) nothing is written here.
        var info = await GrainFactory.GetGrain<IHostGrain>(hostId).CreateVm(VmId, config);
        if (!state.State.Exists) await state.SaveAsync(new VmState(hostId));
        return info;
    }

    public Task<VmInfo> Configure(VmConfigChange change) => Host().ConfigureVm(VmId, change);
    public Task<VmInfo> ReportDemand(int demandMb) => Host().ReportDemand(VmId, demandMb);
    public Task<VmInfo> Start() => Host().StartVm(VmId);
    public Task<VmInfo> Stop() => Host().StopVm(VmId);
    public Task<VmInfo> GetInfo() => Host().GetVm(VmId);

    private IHostGrain Host()
    {
        Rule.Require(state.State.Exists, "vm-must-exist", $"VM {VmId} does not exist; create it with 'hv vm create'.");
        return GrainFactory.GetGrain<IHostGrain>(state.State.HostId);
    }
}
