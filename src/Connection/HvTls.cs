using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Orleans;
using Orleans.Connections.Security;
using Orleans.Hosting;

namespace HvOrleans.Connection;

/// <summary>
/// Mutual TLS between silos and clients (section <c>Hv:Tls</c>; <c>Hv__Tls__*</c> environment variables).
/// Every party presents a certificate issued by the deployment's own CA and trusts that CA alone:
/// a client without such a certificate cannot open a gateway connection, and a silo without one
/// cannot join. Files are PEM, as Kubernetes TLS secrets and cert-manager write them.
/// </summary>
public sealed class HvTlsOptions
{
    public const string Section = "Hv:Tls";

    /// <summary>This process's certificate (PEM). Silos need one; a client without one is refused by the silos.</summary>
    public string CertificatePath { get; set; } = "";
    /// <summary>The certificate's private key (PEM, PKCS#8 or EC/RSA).</summary>
    public string KeyPath { get; set; } = "";
    /// <summary>The CA (PEM) whose certificates are trusted; nothing else is, not even the system's roots.</summary>
    public string CaPath { get; set; } = "";
    /// <summary>The DNS name in the silos' certificates; clients and silos check it when they connect.</summary>
    public string ServerName { get; set; } = "hv-silo";

    public bool Enabled => CaPath.Length > 0 || CertificatePath.Length > 0;
}

public static class HvTls
{
    /// <summary>Clients: TLS to the gateways, presenting the client certificate when one is configured.</summary>
    public static IClientBuilder UseHvTls(this IClientBuilder client, HvTlsOptions tls)
    {
        var (certificate, ca) = Load(tls, certificateRequired: false);
        return client.UseTls(options =>
        {
            options.LocalCertificate = certificate;
            TrustOnly(options, ca, tls.ServerName);
            options.ClientCertificateMode = certificate is null ? RemoteCertificateMode.NoCertificate : RemoteCertificateMode.RequireCertificate;
        });
    }

    /// <summary>Both sides: the remote end must present a certificate of our CA, and a silo must carry the silos' name.</summary>
    public static void TrustOnly(TlsOptions options, X509Certificate2 ca, string serverName)
    {
        options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.RemoteCertificateValidation = (remote, _, errors) => IsTrusted(remote, errors, ca);
        options.OnAuthenticateAsClient = (_, ssl) => ssl.TargetHost = serverName;
    }

    /// <summary>
    /// Trusted when the chain ends at our CA (and only ours) and, for a server, the name matches.
    /// The platform's own chain errors are expected — our CA is in no system store — so the chain is
    /// rebuilt here with the CA as the one custom root.
    /// </summary>
    public static bool IsTrusted(X509Certificate2? remote, SslPolicyErrors errors, X509Certificate2 ca)
    {
        if (remote is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable) || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
            return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        // A private CA publishes no revocation list; rotate by issuing a new CA and certificates.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(remote);
    }

    public static (X509Certificate2? Certificate, X509Certificate2 Ca) Load(HvTlsOptions tls, bool certificateRequired)
    {
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Existing(tls.CaPath, "CaPath")));
        if (tls.CertificatePath.Length == 0)
            return certificateRequired
                ? throw new InvalidOperationException("Hv:Tls:CertificatePath is required on a silo when TLS is on (Hv:Tls:CaPath is set).")
                : (null, ca);
        var pem = X509Certificate2.CreateFromPemFile(Existing(tls.CertificatePath, "CertificatePath"), Existing(tls.KeyPath, "KeyPath"));
        // An ephemeral PEM key cannot serve TLS everywhere; a PKCS#12 round trip gives a persisted one.
        var certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        if (!IsTrusted(certificate, SslPolicyErrors.None, ca))
            throw new InvalidOperationException($"Hv:Tls:CertificatePath '{tls.CertificatePath}' is not issued by the CA in Hv:Tls:CaPath '{tls.CaPath}'.");
        return (certificate, ca);
    }

    private static string Existing(string path, string name) =>
        path.Length == 0 ? throw new InvalidOperationException($"Hv:Tls:{name} is required when TLS is on.")
        : File.Exists(path) ? path
        : throw new InvalidOperationException($"Hv:Tls:{name} '{path}' does not exist.");
}
