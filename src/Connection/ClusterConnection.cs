using System.ComponentModel.DataAnnotations;
using System.Net;
using Azure.Core;
using Azure.Data.Tables;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;

namespace HvOrleans.Connection;

public enum HvStorage
{
    /// <summary>Azure Table membership, grain state and reminders (Azurite locally).</summary>
    Azure,
    /// <summary>Localhost clustering with in-memory state: quick runs only, nothing survives a restart.</summary>
    Memory,
}

/// <summary>Where this machine's HvOrleans files live: <c>$HV_HOME</c>, default <c>~/.hvorleans</c>.</summary>
public static class HvHome
{
    public static string Directory =>
        Environment.GetEnvironmentVariable("HV_HOME") is { Length: > 0 } home
            ? home
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".hvorleans");

    /// <summary>The local cluster's settings for clients, written by <c>infra/cluster.sh up</c>.</summary>
    public static string ClusterFile => Path.Combine(Directory, "cluster.json");
}

/// <summary>Which cluster, and the storage its membership lives in: the names silos and clients share (section <c>Hv</c>).</summary>
public class ClusterIdentityOptions
{
    public const string Section = "Hv";

    [EnumDataType(typeof(HvStorage))] public HvStorage Storage { get; set; } = HvStorage.Azure;
    public string ConnectionString { get; set; } = "";
    [Required, RegularExpression("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")] public string ClusterId { get; set; } = "hv-local";
    [Required, RegularExpression("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")] public string ServiceId { get; set; } = "hvorleans";
    /// <summary>A silo's gateway; with <see cref="HvStorage.Memory"/>, the one local silo's, where clients connect.</summary>
    [Range(1, 65535)] public int GatewayPort { get; set; } = 30000;
    [ValidateNested] public HvTlsOptions Tls { get; set; } = new();
}

/// <summary>
/// A client's settings: the cluster's identity, TLS, and how long to wait. Read from
/// <see cref="HvHome.ClusterFile"/>, overridden by <c>Hv__*</c> environment variables.
/// </summary>
public sealed class ClusterConnectionOptions : ClusterIdentityOptions
{
    [ValidateNested] public HvClientOptions Client { get; set; } = new();
}

/// <summary>How long a client waits (section <c>Hv:Client</c>, e.g. <c>Hv__Client__RetryWindow=00:01:00</c>).</summary>
public sealed class HvClientOptions
{
    /// <summary>The whole connect, several fresh attempts included.</summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "00:10:00")] public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// One attempt to start the client: a gateway that hangs (its silo frozen, not yet voted dead) can
    /// stall a start; the next attempt, by when the membership table names that silo dead, skips it.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "00:10:00")] public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(4);

    /// <summary>
    /// One call. A call through a gateway that hangs is not failed when its silo is voted dead; the bound
    /// lets a retry go round it. Every operator call is short (a restore of a 64 MB disk takes ~3 s).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "01:00:00")] public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The silos' web sides (<c>http://127.0.0.1:8080</c>, …; infra/cluster.sh writes them). Read-only
    /// commands ask the first that answers over HTTP, which costs milliseconds where an Orleans
    /// client's start costs half a second; when none answers they go through Orleans as every other
    /// command does. Empty: everything goes through Orleans.
    /// </summary>
    public string[] WebUrls { get; set; } = [];

    /// <summary>How long one web side may take to answer a read before the next is asked.</summary>
    [Range(typeof(TimeSpan), "00:00:00.05", "00:01:00")] public TimeSpan WebTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Gateways to go through (<c>127.0.0.1:30000</c>, …) instead of every gateway the membership table
    /// lists: a client that may reach only some silos (through a firewall's opening, say). Empty: the table's.
    /// </summary>
    public string[] Gateways { get; set; } = [];

    /// <summary><see cref="Gateways"/> as endpoints (checked when the settings are loaded).</summary>
    internal IPEndPoint[] GatewayEndpoints => [.. Gateways.Select(IPEndPoint.Parse)];

    /// <summary>How long an operator command keeps retrying a cluster that cannot answer.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")] public TimeSpan RetryWindow { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>Finds and connects to the cluster.</summary>
public static class ClusterConnection
{
    /// <summary>The settings, bound once and checked: a bad value is a <see cref="ClusterConfigurationException"/> naming it.</summary>
    public static ClusterConnectionOptions Load()
    {
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(HvHome.ClusterFile, optional: true)
            .AddEnvironmentVariables()
            .Build();
        try
        {
            var options = HvOptions.Bind<ClusterConnectionOptions>(configuration, ClusterConnectionOptions.Section);
            // An empty entry (Hv__Client__WebUrls__0=) switches the web reads off; any other must be an http(s) URL.
            options.Client.WebUrls = [.. options.Client.WebUrls.Where(u => u.Length > 0)];
            foreach (string url in options.Client.WebUrls)
                if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                    throw new ClusterConfigurationException($"Hv:Client:WebUrls: each is an http(s) URL of a silo's web side (http://127.0.0.1:8080); got '{url}'.");
            options.Client.Gateways = [.. options.Client.Gateways.Where(g => g.Length > 0)];
            foreach (string gateway in options.Client.Gateways)
                if (!IPEndPoint.TryParse(gateway, out var endpoint) || endpoint.Port == 0)
                    throw new ClusterConfigurationException($"Hv:Client:Gateways: each is a silo's gateway as IP:port (127.0.0.1:30000); got '{gateway}'.");
            return options;
        }
        catch (OptionsValidationException e)
        {
            throw new ClusterConfigurationException(string.Join("; ", e.Failures));
        }
    }

    public static async Task<IHost> ConnectAsync(ClusterConnectionOptions options, CancellationToken cancellationToken)
    {
        var client = options.Client;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var lastError = new LastErrorLoggerProvider();
        Exception? failure = null;
        await ClusterProbe.RequireStorageListeningAsync(options, cancellationToken);
        // Beside the first attempt, which can hang for its whole timeout when no silo is left.
        var liveSilo = ClusterProbe.RequireLiveSiloAsync(options, cancellationToken);
        while (clock.Elapsed < client.ConnectTimeout && !cancellationToken.IsCancellationRequested)
        {
            // After a failed attempt: a cluster whose silos all stopped says so now, not after the connect timeout.
            if (failure is not null) liveSilo = ClusterProbe.RequireLiveSiloAsync(options, cancellationToken);
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.Logging.ClearProviders();
            // The console stays quiet, but why a gateway refused us (a TLS handshake, say) is worth telling.
            builder.Logging.AddProvider(lastError);
            try
            {
                builder.UseOrleansClient(orleans => Configure(orleans, options));
            }
            catch (InvalidOperationException e)
            {
                throw new ClusterConfigurationException(e.Message);
            }
            var host = builder.Build();
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(TimeSpan.FromTicks(Math.Clamp((client.ConnectTimeout - clock.Elapsed).Ticks, TimeSpan.TicksPerMillisecond, client.AttemptTimeout.Ticks)));
            try
            {
                var start = host.StartAsync(attempt.Token).WaitAsync(attempt.Token);
                if (await Task.WhenAny(start, liveSilo) == liveSilo && liveSilo.IsFaulted)
                {
                    _ = Task.Run(host.Dispose);
                    _ = start.ContinueWith(static t => t.Exception, TaskScheduler.Default);   // observed: its outcome no longer matters
                    await liveSilo;   // throws: no silo is up
                }
                await start;
                return host;
            }
            catch (Exception e) when (e is not ClusterUnreachableException && !cancellationToken.IsCancellationRequested)
            {
                failure = e;
                _ = Task.Run(host.Dispose); // a hung start must not hang the caller's exit
                if (e is not OperationCanceledException)
                    await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        string why = failure is null or OperationCanceledException ? $"no silo answered within {client.ConnectTimeout.TotalSeconds:0} s" : failure.GetBaseException().Message;
        if (lastError.Message is { } refused)
            why += $"; last connection error: {refused.TrimEnd('.')}";
        if (options.Tls is { Enabled: true, CertificatePath.Length: 0 })
            why += " (TLS is on but this client has no certificate: set Hv:Tls:CertificatePath and Hv:Tls:KeyPath)";
        throw new ClusterUnreachableException($"No cluster reachable ({options.Storage}, cluster '{options.ClusterId}'): {why}. Is it up? (infra/cluster.sh status)");
    }

    private static void Configure(IClientBuilder client, ClusterConnectionOptions options)
    {
        client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (options.ClusterId, options.ServiceId));
        // A restarted silo is a new gateway: learn of it in seconds, not the default minute.
        client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5));
        client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = options.Client.ResponseTimeout);
        if (options.Tls.Enabled)
            client.UseHvTls(options.Tls);
        if (options.Storage == HvStorage.Memory)
        {
            client.UseLocalhostClustering(options.GatewayPort);
            return;
        }
        string connectionString = options.ConnectionString is { Length: > 0 } cs ? cs
            : throw new ClusterUnreachableException(
                $"No cluster configured: {HvHome.ClusterFile} is missing. Start one with 'infra/cluster.sh up' or set Hv__ConnectionString.");
        if (options.Client.Gateways.Length > 0)
        {
            client.UseStaticClustering(options.Client.GatewayEndpoints);
            return;
        }
        // Fail fast when storage is down instead of retrying for a minute.
        var tableOptions = new TableClientOptions { Retry = { MaxRetries = 1, NetworkTimeout = TimeSpan.FromSeconds(5), Mode = RetryMode.Fixed } };
        client.UseAzureStorageClustering(o => o.TableServiceClient = new TableServiceClient(connectionString, tableOptions));
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
