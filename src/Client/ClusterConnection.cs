using Azure.Core;
using Azure.Data.Tables;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using HvOrleans.Silo.Hosting;
using Orleans.Hosting;

namespace HvOrleans.Client;

/// <summary>
/// Finds and connects to the cluster. Settings come from <c>$HV_HOME/cluster.json</c> (written by
/// <c>infra/cluster.sh up</c>; HV_HOME defaults to <c>~/.hvorleans</c>) overridden by <c>Hv__*</c>
/// environment variables — the same names the silo reads.
/// </summary>
public static class ClusterConnection
{
    public static string HomeDirectory =>
        Environment.GetEnvironmentVariable("HV_HOME") is { Length: > 0 } home
            ? home
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".hvorleans");

    /// <summary>One attempt to start the client; a healthy cluster answers in well under a second.</summary>
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(4);

    private static TimeSpan ResponseTimeout =>
        TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("HV_RESPONSE_TIMEOUT_SECONDS"), out var s) ? s : 10);

    private static TimeSpan ConnectTimeout =>
        TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("HV_CONNECT_TIMEOUT_SECONDS"), out var s) ? s : 10);

    private static IConfiguration Configuration() => new ConfigurationBuilder()
        .AddJsonFile(Path.Combine(HomeDirectory, "cluster.json"), optional: true)
        .AddEnvironmentVariables()
        .Build();

    /// <summary>The Azure Storage connection string of the configured cluster, if any.</summary>
    public static string? ConfiguredConnectionString() => Configuration()["Hv:ConnectionString"] is { Length: > 0 } cs ? cs : null;

    public static string ConfiguredServiceId() => Configuration()["Hv:ServiceId"] ?? "hvorleans";

    public static async Task<IHost> ConnectAsync(CancellationToken cancellationToken)
    {
        var configuration = Configuration();
        var hv = configuration.GetSection("Hv");
        var tls = configuration.GetSection(HvTlsOptions.Section).Get<HvTlsOptions>() ?? new HvTlsOptions();
        // A gateway that hangs (its silo frozen, not yet voted dead) can stall a client's start: start
        // afresh after a few seconds, by when the membership table names that silo dead and hv skips it.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var lastError = new LastErrorLoggerProvider();
        Exception? failure = null;
        while (clock.Elapsed < ConnectTimeout && !cancellationToken.IsCancellationRequested)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.Logging.ClearProviders();
            // The console stays quiet, but why a gateway refused us (a TLS handshake, say) is worth telling.
            builder.Logging.AddProvider(lastError);
            try
            {
                Configure(builder, hv, tls);
            }
            catch (InvalidOperationException e)
            {
                throw new ClusterConfigurationException(e.Message);
            }
            var host = builder.Build();
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(TimeSpan.FromTicks(Math.Clamp((ConnectTimeout - clock.Elapsed).Ticks, TimeSpan.TicksPerMillisecond, AttemptTimeout.Ticks)));
            try
            {
                await host.StartAsync(attempt.Token).WaitAsync(attempt.Token);
                return host;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                failure = e;
                _ = Task.Run(host.Dispose); // a hung start must not hang hv's exit
                if (e is not OperationCanceledException)
                    await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        string why = failure is null or OperationCanceledException ? $"no silo answered within {ConnectTimeout.TotalSeconds:0} s" : failure.GetBaseException().Message;
        if (lastError.Message is { } refused)
            why += $"; last connection error: {refused.TrimEnd('.')}";
        if (tls is { Enabled: true, CertificatePath.Length: 0 })
            why += " (TLS is on but this client has no certificate: set Hv:Tls:CertificatePath and Hv:Tls:KeyPath)";
        throw new ClusterUnreachableException($"No cluster reachable ({hv["Storage"] ?? "Azure"}, cluster '{hv["ClusterId"] ?? "hv-local"}'): {why}. Is it up? (infra/cluster.sh status)");
    }

    private static void Configure(HostApplicationBuilder builder, IConfigurationSection hv, HvTlsOptions tls)
    {
        string storage = hv["Storage"] ?? "Azure";
        string clusterId = hv["ClusterId"] ?? "hv-local";
        string serviceId = hv["ServiceId"] ?? "hvorleans";
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (clusterId, serviceId));
            // A restarted silo is a new gateway: learn of it in seconds, not the default minute.
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5));
            // A call through a gateway that hangs is not failed when its silo is voted dead; bound it
            // (default 30 s) so that hv's retry goes round it. Every hv call is short (a restore of a
            // 64 MB disk takes ~3 s); HV_RESPONSE_TIMEOUT_SECONDS for more.
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = ResponseTimeout);
            if (tls.Enabled)
                client.UseHvTls(tls);
            if (storage.Equals("Memory", StringComparison.OrdinalIgnoreCase))
            {
                client.UseLocalhostClustering(int.Parse(hv["GatewayPort"] ?? "30000"));
                return;
            }
            string connectionString = hv["ConnectionString"] is { Length: > 0 } cs ? cs
                : throw new ClusterUnreachableException(
                    $"No cluster configured: {Path.Combine(HomeDirectory, "cluster.json")} is missing. Start one with 'infra/cluster.sh up' or set Hv__ConnectionString.");
            // Fail fast when storage is down instead of retrying for a minute.
            var options = new TableClientOptions { Retry = { MaxRetries = 1, NetworkTimeout = TimeSpan.FromSeconds(5), Mode = RetryMode.Fixed } };
            client.UseAzureStorageClustering(o => o.TableServiceClient = new TableServiceClient(connectionString, options));
        });
    }
}

public sealed class ClusterUnreachableException(string message) : Exception(message);

/// <summary>The client's own settings are wrong (a TLS file missing, say): nothing was sent anywhere.</summary>
public sealed class ClusterConfigurationException(string message) : Exception(message);

/// <summary>Keeps the newest warning-or-worse exception message the client logged.</summary>
internal sealed class LastErrorLoggerProvider : ILoggerProvider, ILogger
{
    public string? Message { get; private set; }

    public ILogger CreateLogger(string categoryName) => this;
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel) && exception is not null)
        {
            // A refused TLS handshake says the most; later "connection closed" noise must not hide it.
            var tls = Chain(exception).OfType<System.Security.Authentication.AuthenticationException>().FirstOrDefault();
            if (tls is not null)
                Message = $"TLS: {tls.Message}";
            else if (Message?.StartsWith("TLS:", StringComparison.Ordinal) != true)
                Message = exception.GetBaseException().Message;
        }
    }

    private static IEnumerable<Exception> Chain(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            yield return e;
    }

    public void Dispose() { }
}
