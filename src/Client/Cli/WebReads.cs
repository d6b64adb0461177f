using System.Net;
using System.Net.Http.Headers;

namespace HvOrleans.Client.Cli;

/// <summary>
/// Read-only commands over a silo's web side (<c>/api/v1</c>): no Orleans client to start. Each
/// known web side is asked in turn; a refusal is the cluster's answer (a rule, as through Orleans);
/// anything else — nothing listening, a timeout, a 5xx — moves on, and null sends the command
/// through Orleans.
/// </summary>
public static class WebReads
{
    public static async Task<T?> GetAsync<T>(ClusterConnectionOptions options, string path, CancellationToken cancellationToken) where T : class
    {
        // With TLS on, reads go through Orleans, whose connection checks the silos' certificates.
        if (options.Client.WebUrls.Length == 0 || options.Tls.Enabled) return null;
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = options.Client.WebTimeout };
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        foreach (string url in options.Client.WebUrls)
        {
            HttpResponseMessage response;
            try
            {
                response = await http.GetAsync($"{url.TrimEnd('/')}/api/v1/{path}", HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                continue;
            }
            using (response)
            {
                await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
                try
                {
                    if (response.StatusCode == HttpStatusCode.OK) return JsonOutput.Deserialize<T>(body);
                    if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict && JsonOutput.Deserialize<ErrorJson>(body) is { Error: not null } refusal)
                        throw new HvRuleException(refusal.Error, refusal.Message);
                }
                catch (System.Text.Json.JsonException)
                {
                    // Not our API's answer (another program on the port, an older silo): ask the next.
                }
            }
        }
        return null;
    }
}
