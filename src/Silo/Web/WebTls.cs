using System.Net.Security;
using HvOrleans.Connection;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace HvOrleans.Silo.Web;

/// <summary>The web side's HTTPS when the cluster runs mutual TLS: the same certificate and the same single trusted CA as the silo's Orleans connections.</summary>
public static class WebTls
{
    public static HttpsConnectionAdapterOptions Https(HvTlsOptions tls)
    {
        var (certificate, ca) = HvTls.Load(tls, certificateRequired: true);
        return new HttpsConnectionAdapterOptions
        {
            ServerCertificate = certificate,
            // Browsers and scrapers come without one (reads are open); a certificate that is offered must be of our CA.
            ClientCertificateMode = ClientCertificateMode.AllowCertificate,
            ClientCertificateValidation = (remote, _, errors) =>
                HvTls.IsTrusted(remote, errors & ~(SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNameMismatch), ca),
        };
    }
}
