using System.ComponentModel.DataAnnotations;
using HvOrleans.Connection;

namespace HvOrleans.Silo.Hosting;

/// <summary>
/// The silo's settings: section <c>Hv</c> of appsettings.json, overridden by <c>Hv__*</c> environment
/// variables, bound once at start with its subsections; an unknown or out-of-range setting stops the
/// silo before it starts, naming the key.
/// </summary>
public sealed class HvSiloOptions : ClusterIdentityOptions
{
    [Range(1, 65535)] public int SiloPort { get; set; } = 11111;
    /// <summary>The address other silos and clients reach this one at.</summary>
    [Required] public string AdvertisedIp { get; set; } = "127.0.0.1";
    /// <summary>
    /// Orleans' Kubernetes hosting: silo name, address and cluster ids from the pod (POD_NAME, POD_IP,
    /// ORLEANS_CLUSTER_ID, ORLEANS_SERVICE_ID), and a watch on the silo pods. See infra/k8s.
    /// </summary>
    public bool Kubernetes { get; set; }
    /// <summary>
    /// When set, every grain-state write is recorded here (JSON lines, one file per silo) for the chaos
    /// checker: invariants at every persisted state, no write accepted over a newer one. Off in production.
    /// </summary>
    public string AuditDirectory { get; set; } = "";
    /// <summary>
    /// Membership probing: how quickly a dead silo is declared dead and its grains move. Measured
    /// (docs/RELIABILITY.md, 25 SIGKILLs each, 3 silos): 0.5 s → a killed silo's grains all answer
    /// elsewhere within p99 0.9 s; 1 s → p99 1.5 s; no false eviction in either, nor under chaos at 0.5 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")] public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromMilliseconds(500);
    [Range(1, 10)] public int NumMissedProbesLimit { get; set; } = 2;
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")] public TimeSpan TableRefreshTimeout { get; set; } = TimeSpan.FromSeconds(2);

    [ValidateNested] public BalancerOptions Balancer { get; set; } = new();
    [ValidateNested] public WebOptions Web { get; set; } = new();
    [ValidateNested] public BackupOptions Backup { get; set; } = new();

    /// <summary>
    /// The silo's web side (section <c>Hv:Web</c>): <c>/healthz</c> (200 once the silo is Active, else
    /// 503) and <c>/metrics</c> (Prometheus text of the HvOrleans meters). Off unless a port is set;
    /// infra/cluster.sh gives silo i port <c>HV_WEB_PORT_BASE</c> (8080) + i, on loopback.
    /// </summary>
    public sealed class WebOptions
    {
        /// <summary>0: no web side.</summary>
        [Range(0, 65535)] public int Port { get; set; }
        [Required, RegularExpression(@"^[0-9a-fA-F:.]+$")] public string Address { get; set; } = "127.0.0.1";

        /// <summary>
        /// The bearer token every change through <c>/api/v1</c> needs (reads are open, like /metrics).
        /// Required when the web side listens beyond loopback; <see cref="ApiTokenFile"/> reads it from
        /// a mounted secret instead.
        /// </summary>
        [MinLength(16)] public string? ApiToken { get; set; }

        public string? ApiTokenFile { get; set; }

        /// <summary>The token from <see cref="ApiToken"/> or <see cref="ApiTokenFile"/>, or null for none.</summary>
        public string? Token() => ApiToken ?? (ApiTokenFile is { } file ? File.ReadAllText(file).Trim() : null);

        public bool Loopback => System.Net.IPAddress.TryParse(Address, out var ip) && System.Net.IPAddress.IsLoopback(ip);
    }

    public static HvSiloOptions Bind(IConfiguration configuration)
    {
        var hv = HvOptions.Bind<HvSiloOptions>(configuration, Section, errorOnUnknown: true);
        if (hv.Storage == HvStorage.Azure && string.IsNullOrWhiteSpace(hv.ConnectionString))
            throw new Microsoft.Extensions.Options.OptionsValidationException(Section, typeof(HvSiloOptions),
                ["Hv:ConnectionString is required with Hv:Storage=Azure (set Hv__ConnectionString)."]);
        if (hv.Web.Port != 0 && !hv.Web.Loopback && hv.Web.ApiToken is null && hv.Web.ApiTokenFile is null)
            throw new Microsoft.Extensions.Options.OptionsValidationException(Section, typeof(HvSiloOptions),
                [$"Hv:Web:Address {hv.Web.Address} is beyond loopback: set Hv:Web:ApiToken (or Hv:Web:ApiTokenFile), which /api/v1's changes then require."]);
        return hv;
    }
}
