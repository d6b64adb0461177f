namespace HvOrleans.Grains;

public sealed class HostGrain(
    [PersistentState("host", GrainStorage.Name)] IPersistentState<HostState> state,
    ILogger<HostGrain> logger) : Grain, IHostGrain
{
    public const int DefaultReserveMb = 1024;
    private const int LargestHostMb = 64 * 1_048_576;

    private string HostId => this.GetPrimaryKeyString();

    public async Task<HostInfo> Add(int memoryMb, int reserveMb)
    {
        ResourceNames.Validate("host", HostId);
        Rule.Require(memoryMb is > 0 and <= LargestHostMb && memoryMb % VmConfig.PageMb == 0, "host-memory-size",
            $"Host memory must be a positive multiple of {VmConfig.PageMb} MB up to {LargestHostMb} MB; got {memoryMb}.");
        Rule.Require(reserveMb >= 0 && reserveMb < memoryMb && reserveMb % VmConfig.PageMb == 0, "host-reserve-size",
            $"Host reserve must be a multiple of {VmConfig.PageMb} MB from 0 to less than its memory ({memoryMb} MB); got {reserveMb}.");
        if (state.State.Exists)
        {
            Rule.Require(state.State.MemoryMb == memoryMb && state.State.ReserveMb == reserveMb, "host-exists",
                $"Host {HostId} exists with {state.State.MemoryMb} MB memory and {state.State.ReserveMb} MB reserve; asked {memoryMb} and {reserveMb}.");
            return Info();
        }
        await state.SaveAsync(state.State with { MemoryMb = memoryMb, ReserveMb = reserveMb });
        logger.LogInformation("Host {HostId} added: {MemoryMb} MB, {ReserveMb} MB reserved", HostId, memoryMb, reserveMb);
        await GrainFactory.GetGrain<IHostBalancerGrain>(HostId).Wake();
        return Info();
    }

    public Task<HostInfo> GetInfo()
    {
        RequireExists();
        return Task.FromResult(Info());
    }

    public async Task<HostInfo> AddVm(string vmId)
    {
        RequireExists();
        if (!state.State.AssignedMbByVm.ContainsKey(vmId))
            await state.SaveAsync(state.State with { AssignedMbByVm = state.State.AssignedMbByVm.Add(vmId, 0) });
        return Info();
    }

    public async Task<HostInfo> SetAssignments(IReadOnlyDictionary<string, int> assignedMbByVm)
    {
        RequireExists();
        var ledger = state.State.AssignedMbByVm;
        foreach (var (vmId, assignedMb) in assignedMbByVm)
        {
            Rule.Require(ledger.ContainsKey(vmId), "vm-on-host", $"VM {vmId} is not on host {HostId}.");
            Rule.Require(assignedMb >= 0, "assigned-not-negative", $"VM {vmId} cannot be assigned {assignedMb} MB.");
            ledger = ledger.SetItem(vmId, assignedMb);
        }
        if (ledger == state.State.AssignedMbByVm) return Info();
        var next = state.State with { AssignedMbByVm = ledger };
        Rule.Require(next.AssignedMb <= next.CapacityMb, "host-capacity",
            $"Host {HostId} would assign {next.AssignedMb} MB but has only {next.CapacityMb} MB (memory {next.MemoryMb} − reserve {next.ReserveMb}).");
        await state.SaveAsync(next);
        return Info();
    }

    private void RequireExists() =>
        Rule.Require(state.State.Exists, "host-must-exist", $"Host {HostId} does not exist; add it with 'hv host add'.");

    private HostInfo Info() => new(HostId, state.State.MemoryMb, state.State.ReserveMb, state.State.AssignedMbByVm);
}
