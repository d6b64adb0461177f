using Microsoft.Extensions.Options;

namespace HvOrleans.Grains;

public sealed class HostBalancerGrain(
    IOptions<BalancerOptions> options,
    ILogger<HostBalancerGrain> logger) : Grain, IHostBalancerGrain, IRemindable
{
    private const string ReminderName = "balance";
    private IGrainTimer? _timer;

    private string HostId => this.GetPrimaryKeyString();
    private IHostGrain Host => GrainFactory.GetGrain<IHostGrain>(HostId);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Registered on every activation (idempotent): whoever wakes the balancer also makes it outlive a silo.
        await this.RegisterOrUpdateReminder(ReminderName, options.Value.ReminderPeriod, options.Value.ReminderPeriod);
        EnsureTimer();
    }

    public Task Wake()
    {
        EnsureTimer();
        return Task.CompletedTask;
    }

    public Task<BalancingReport> BalanceNow() => Host.BalanceByItsPolicy();

    /// <summary>Brings the grain and its timer back after a silo failure, and heals at once: a pass now, whatever was missed.</summary>
    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        EnsureTimer();
        await RunPeriodicPassAsync(CancellationToken.None);
    }

    private void EnsureTimer()
    {
        var period = options.Value.BalancingPeriod;
        _timer ??= this.RegisterGrainTimer(RunPeriodicPassAsync, new GrainTimerCreationOptions(period, period) { KeepAlive = true });
    }

    private async Task RunPeriodicPassAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Host.BalanceByItsPolicy();
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Balancing pass on host {HostId} failed; trying again next period", HostId);
        }
    }
}
