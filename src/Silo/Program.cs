using System.Net;
using HvOrleans.Silo.Hosting;
using HvOrleans.Silo.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Orleans.Dashboard;

HvSiloOptions hv;
try
{
    // Read once before choosing the host: a silo without a web port starts no web server at all
    // (Kestrel with no endpoint would listen on :5000).
    hv = HvSiloOptions.Bind(new ConfigurationBuilder()
        .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
        .AddEnvironmentVariables().AddCommandLine(args).Build());
}
catch (OptionsValidationException e)
{
    // A bad setting stops the silo before it joins anything, naming the key and value.
    Console.Error.WriteLine($"HvOrleans silo: configuration refused: {string.Join("; ", e.Failures)}");
    return 2;
}

var web = hv.Web;
if (web.Port == 0)
{
    var builder = Host.CreateApplicationBuilder(args);
    builder.UseOrleans(silo => silo.AddHvSilo(builder.Configuration));
    await builder.Build().RunAsync();
}
else
{
    var builder = WebApplication.CreateBuilder(args);
    // The dashboard profiles every grain call and reads every silo: a web side on every silo of a cluster
    // or on none (infra/cluster.sh gives each its port); the simulator's own silo has neither.
    builder.UseOrleans(silo => silo.AddHvSilo(builder.Configuration).AddDashboard());
    // With TLS on, the web side is HTTPS with the silo's certificate, and a client certificate of the
    // cluster's CA authorizes /api/v1's changes as the token does.
    builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Parse(web.Address), web.Port,
        listen => { if (hv.Tls.Enabled) listen.UseHttps(WebTls.Https(hv.Tls)); }));
    builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter("HvOrleans.*").AddPrometheusExporter());
    builder.Services.AddOpenApi("v1", openApi => openApi.AddDocumentTransformer((document, _, _) =>
    {
        document.Info.Title = "HvOrleans API";
        document.Info.Description = "Hosts, VMs and their memory views, and live backups, in the shapes 'hv --json' prints. Changes (POST) need 'Authorization: Bearer <Hv:Web:ApiToken>' when a token is set.";
        return Task.CompletedTask;
    }));
    var app = builder.Build();
    app.MapGet("/healthz", (ISiloStatusOracle silo) => silo.CurrentStatus == SiloStatus.Active
        ? Results.Text($"Active {silo.SiloAddress}\n")
        : Results.Text($"{silo.CurrentStatus} {silo.SiloAddress}\n", statusCode: StatusCodes.Status503ServiceUnavailable)).ExcludeFromDescription();
    app.MapPrometheusScrapingEndpoint("/metrics");
    app.MapOrleansDashboard(routePrefix: "/dashboard");
    app.MapOpenApi($"{FleetApi.Prefix}/openapi.json");
    app.MapFleetApi(web.Token(), clientCertificates: hv.Tls.Enabled);
    app.MapGet("/", () => Results.Content(FleetPage.Html, "text/html; charset=utf-8")).ExcludeFromDescription();
    await app.RunAsync();
}
return 0;
