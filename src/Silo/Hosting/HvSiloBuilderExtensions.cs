using System.Net;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using HvOrleans.Connection;
using HvOrleans.Grains.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Connections.Security;
using Orleans.Providers;
using Orleans.Serialization;
using Orleans.Storage;

namespace HvOrleans.Silo.Hosting;

public static class HvSiloBuilderExtensions
{
    /// <summary>Configures an HvOrleans silo: clustering, grain storage and reminders as <see cref="HvSiloOptions.Storage"/> says.</summary>
    public static ISiloBuilder AddHvSilo(this ISiloBuilder silo, IConfiguration configuration)
    {
        var hv = HvSiloOptions.Bind(configuration);
        silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (hv.ClusterId, hv.ServiceId));
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = hv.ProbeTimeout;
            o.NumMissedProbesLimit = hv.NumMissedProbesLimit;
            o.TableRefreshTimeout = hv.TableRefreshTimeout;
        });
        if (hv.Storage == HvStorage.Memory)
            silo.UseLocalhostClustering(hv.SiloPort, hv.GatewayPort);
        else
        {
            if (hv.Kubernetes)
            {
                // The pod's IP (POD_IP) is advertised and every address listened on; the pod watcher
                // declares a deleted pod's silo dead at once instead of waiting for missed probes.
                silo.Configure<EndpointOptions>(o => (o.SiloPort, o.GatewayPort) = (hv.SiloPort, hv.GatewayPort));
                silo.UseKubernetesHosting();
            }
            else
                silo.ConfigureEndpoints(IPAddress.Parse(hv.AdvertisedIp), hv.SiloPort, hv.GatewayPort, listenOnAnyHostAddress: false);
            silo.UseAzureStorageClustering(o => o.TableServiceClient = Tables(hv));
        }
        if (hv.Tls.Enabled)
            silo.UseHvTls(hv.Tls);
        return silo.AddHvGrainServices(hv);
    }

    /// <summary>What the grains need from any silo, a test cluster's too: grain storage, reminders, balancer and backup options.</summary>
    public static ISiloBuilder AddHvGrainServices(this ISiloBuilder silo, IConfiguration configuration) =>
        silo.AddHvGrainServices(HvSiloOptions.Bind(configuration));

    private static ISiloBuilder AddHvGrainServices(this ISiloBuilder silo, HvSiloOptions hv)
    {
        silo.Services.AddSingleton(Options.Create(hv.Balancer));
        silo.Services.AddSingleton(Options.Create(hv.Backup));
        silo.Services.TryAddSingleton(TimeProvider.System);
        // Disks and backups need blobs; without a connection string disk commands are refused plainly.
        silo.Services.AddSingleton(sp => new DiskStore(
            string.IsNullOrWhiteSpace(hv.ConnectionString) ? null : new BlobServiceClient(hv.ConnectionString),
            sp.GetRequiredService<IOptions<ClusterOptions>>(), sp.GetRequiredService<IOptions<BackupOptions>>()));
        // The balancer's and backup jobs' reminders only bring grains back; a period under Orleans' 1-minute
        // default is allowed so that tests and small clusters recover quickly.
        var reminderPeriod = TimeSpan.FromTicks(Math.Min(hv.Balancer.ReminderPeriod.Ticks, hv.Backup.ResumePeriod.Ticks));
        silo.Configure<ReminderOptions>(o =>
            o.MinimumReminderPeriod = TimeSpan.FromTicks(Math.Min(o.MinimumReminderPeriod.Ticks, reminderPeriod.Ticks)));
        if (hv.Storage == HvStorage.Memory)
        {
            // One silo (localhost clustering): its state can stay in its own memory (ProcessMemoryGrainStorage says why).
            silo.Services.AddKeyedSingleton<IGrainStorage>(GrainStorage.Name, (sp, _) => ActivatorUtilities.CreateInstance<ProcessMemoryGrainStorage>(sp));
            silo.UseInMemoryReminderService();
        }
        else
        {
            // Orleans' own serializer: the [Id]-tagged state records stay readable as they evolve, and
            // immutable collections and positional records round-trip (the JSON default does not).
            silo.Services.AddKeyedSingleton<IGrainStorage>(GrainStorage.Name, (sp, _) => new BatchedTableGrainStorage(Tables(hv),
                sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId, new OrleansGrainStorageSerializer(sp.GetRequiredService<Serializer>())));
            silo.UseAzureTableReminderService(o => o.TableServiceClient = Tables(hv));
        }
        if (hv.AuditDirectory.Length > 0)
            silo.Services.AuditGrainStorage(GrainStorage.Name, hv.AuditDirectory);
        return silo;
    }

    /// <summary>Silos: TLS on silo-to-silo and gateway connections, a trusted client certificate required.</summary>
    public static ISiloBuilder UseHvTls(this ISiloBuilder silo, HvTlsOptions tls)
    {
        var (certificate, ca) = HvTls.Load(tls, certificateRequired: true);
        return silo.UseTls(certificate!, options =>
        {
            HvTls.TrustOnly(options, ca, tls.ServerName);
            options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        });
    }

    /// <summary>Puts <see cref="AuditedGrainStorage"/> around the named grain storage the provider registered.</summary>
    private static void AuditGrainStorage(this IServiceCollection services, string name, string directory)
    {
        var provider = services.Last(d => d.ServiceType == typeof(IGrainStorage) && d.IsKeyedService && Equals(d.ServiceKey, name));
        var create = provider.KeyedImplementationFactory
            ?? throw new InvalidOperationException($"Grain storage '{name}' is not registered by a factory; it cannot be audited.");
        services.Remove(provider);
        services.AddSingleton(_ => new StateAuditLog(directory));
        services.AddKeyedSingleton<IGrainStorage>(name, (sp, key) =>
            new AuditedGrainStorage((IGrainStorage)create(sp, key), sp.GetRequiredService<StateAuditLog>()));
    }

    private static TableServiceClient Tables(HvSiloOptions hv) => new(hv.ConnectionString);
}
