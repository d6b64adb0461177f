using System.Net;
using Azure.Data.Tables;
using Orleans.Configuration;

namespace HvOrleans.Silo.Hosting;

public static class HvSiloBuilderExtensions
{
    /// <summary>Configures an HvOrleans silo: clustering, grain storage and reminders as <see cref="HvSiloOptions.Storage"/> says.</summary>
    public static ISiloBuilder AddHvSilo(this ISiloBuilder silo, IConfiguration configuration)
    {
        var hv = configuration.GetSection(HvSiloOptions.Section).Get<HvSiloOptions>() ?? new HvSiloOptions();
        silo.Services.Configure<BalancerOptions>(configuration.GetSection(BalancerOptions.Section));
        silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (hv.ClusterId, hv.ServiceId));
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = hv.ProbeTimeout;
            o.NumMissedProbesLimit = hv.NumMissedProbesLimit;
            o.TableRefreshTimeout = hv.TableRefreshTimeout;
        });
        // The balancer's reminder only re-activates and heals; a period under Orleans' 1-minute
        // default is allowed so that tests and small clusters recover quickly.
        var reminderPeriod = configuration.GetSection(BalancerOptions.Section).Get<BalancerOptions>()?.ReminderPeriod
            ?? new BalancerOptions().ReminderPeriod;
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromTicks(Math.Min(o.MinimumReminderPeriod.Ticks, reminderPeriod.Ticks)));
        return hv.Storage switch
        {
            HvStorage.Memory => silo
                .UseLocalhostClustering(hv.SiloPort, hv.GatewayPort)
                .AddMemoryGrainStorage(GrainStorage.Name)
                .UseInMemoryReminderService(),
            _ => silo.UseAzure(hv),
        };
    }

    private static ISiloBuilder UseAzure(this ISiloBuilder silo, HvSiloOptions hv)
    {
        if (string.IsNullOrWhiteSpace(hv.ConnectionString))
            throw new InvalidOperationException("Hv:ConnectionString is required with Hv:Storage=Azure (set Hv__ConnectionString).");
        var tables = new TableServiceClient(hv.ConnectionString);
        return silo
            .ConfigureEndpoints(IPAddress.Parse(hv.AdvertisedIp), hv.SiloPort, hv.GatewayPort, listenOnAnyHostAddress: false)
            .UseAzureStorageClustering(o => o.TableServiceClient = tables)
            .AddAzureTableGrainStorage(GrainStorage.Name, o => o.TableServiceClient = tables)
            .UseAzureTableReminderService(o => o.TableServiceClient = tables);
    }
}
