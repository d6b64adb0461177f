using System.CommandLine;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace HvOrleans.Client.Cli;

/// <summary>
/// <c>hv tls init</c>: a private CA for one deployment and the certificates its silos and operators
/// present. Everything is PEM, in the layout of a Kubernetes TLS secret (<c>tls.crt</c>, <c>tls.key</c>,
/// <c>ca.crt</c>), so the same files serve <c>infra/cluster.sh up --tls</c> and <c>infra/k8s</c>.
/// </summary>
public static class TlsCommand
{
    /// <summary>The DNS name every silo certificate carries; clients and silos check it (Hv:Tls:ServerName).</summary>
    public const string SiloName = "hv-silo";

    public static Command Command(TextWriter output, CommandTree tree)
    {
        var dir = Symbols.Text("--dir", "Where the files go (default $HV_HOME/tls)", "DIR");
        var days = Symbols.IntIn("--days", "How long the certificates are valid, in days", 1, 3650, 365, "N");
        var force = Symbols.Flag("--force", "Replace an existing CA (every certificate it issued stops being trusted)");
        return tree.Group("tls", "Mutual TLS for a deployment.", ["hv tls init"],
            tree.Leaf("init", "A private CA and the certificates silos and operators present, as PEM in a Kubernetes TLS secret's layout; infra/cluster.sh up --tls uses them.",
                ["hv tls init", "hv tls init --dir /etc/hvorleans/tls --days 90"], [dir, days, force, Symbols.Json], (p, _) =>
                {
                    Init(output, p.GetValue(dir) ?? Path.Combine(HvHome.Directory, "tls"), p.GetValue(days), p.GetValue(force), p.GetValue(Symbols.Json));
                    return Task.FromResult(ExitCodes.Ok);
                }));
    }

    private static void Init(TextWriter output, string dir, int days, bool force, bool json)
    {
        if (File.Exists(Path.Combine(dir, "ca.crt")) && !force)
            throw new UsageException($"{dir} already holds a CA; pass --force to replace it (every certificate issued by it stops being trusted).");
        try
        {
            Write(dir, days);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--dir {dir} cannot hold the certificates: {e.Message}");
        }
        if (json)
        {
            output.Write(JsonOutput.Serialize(new TlsFilesJson(Path.GetFullPath(dir), ["ca.crt", "ca.key", "silo.crt", "silo.key", "client.crt", "client.key"], SiloName)) + "\n");
            return;
        }
        output.Write($"""
            TLS files in {dir}:
              ca.crt               the only CA silos and clients trust
              silo.crt, silo.key   for every silo (DNS name {SiloName})
              client.crt/.key      for hv and other clients
              ca.key               keep offline: it issues new certificates
            Start a TLS cluster with 'infra/cluster.sh up --tls'.

            """);
    }

    private static void Write(string dir, int days)
    {
        Directory.CreateDirectory(dir);
        var notBefore = DateTimeOffset.UtcNow.AddMinutes(-5);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN=HvOrleans CA {Guid.NewGuid():N}", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(notBefore, notBefore.AddDays(days + 1));
        Write(dir, "ca", ca, caKey);

        // Silos are servers to clients and to each other, and clients to each other: both usages.
        Issue(dir, "silo", ca, notBefore, days, SiloName, serverAuth: true);
        Issue(dir, "client", ca, notBefore, days, "hv-operator", serverAuth: false);
    }

    private static void Issue(string dir, string name, X509Certificate2 ca, DateTimeOffset notBefore, int days, string subject, bool serverAuth)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={subject}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        var usages = new OidCollection { new("1.3.6.1.5.5.7.3.2") }; // client authentication
        if (serverAuth)
        {
            usages.Add(new Oid("1.3.6.1.5.5.7.3.1")); // server authentication
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName(subject);
            request.CertificateExtensions.Add(names.Build());
        }
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var certificate = request.Create(ca, notBefore, notBefore.AddDays(days), RandomNumberGenerator.GetBytes(16));
        Write(dir, name, certificate, key);
    }

    private static void Write(string dir, string name, X509Certificate2 certificate, ECDsa key)
    {
        File.WriteAllText(Path.Combine(dir, $"{name}.crt"), certificate.ExportCertificatePem() + "\n");
        string keyPath = Path.Combine(dir, $"{name}.key");
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem() + "\n");
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
