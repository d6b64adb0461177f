using Microsoft.Extensions.Options;

namespace HvOrleans.Grains;

public sealed class HostBalancerGrain(
    IOptions<BalancerOptions> options,
    ILogger<HostBalancerGrain> logger) : Grain, IHostBalancerGrain, IRemindable
{
    private const string ReminderName = "balance";

    private string HostId => this.GetPrimaryKeyString();
    private IHostGrain Host => GrainFactory.GetGrain<IHostGrain>(HostId);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var period = options.Value.BalancingPeriod;
        await this.RegisterOrUpdateReminder(ReminderName, options.Value.ReminderPeriod, options.Value.ReminderPeriod);
        this.RegisterGrainTimer(RunPeriodicPassAsync, new GrainTimerCreationOptions(period, period) { KeepAlive = true });
    }

    public Task Wake() => Task.CompletedTask;

    public Task<BalancingReport> BalanceNow() => Host.Balance(HyperVPolicy.Instance.Name);

    // The reminder's only job is to bring this grain (and so its timer) back after a silo failure.
    public Task ReceiveReminder(string reminderName, TickStatus status) => Task.CompletedTask;

    private async Task RunPeriodicPassAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Host.Balance(HyperVPolicy.Instance.Name);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Balancing pass on host {HostId} failed; trying again next period", HostId);
        }
    }
}
