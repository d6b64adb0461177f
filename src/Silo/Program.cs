using System.Net;
using HvOrleans.Silo.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Orleans.Dashboard;

HvSiloOptions.WebOptions web;
try
{
    // Read once before choosing the host: a silo without a web port starts no web server at all
    // (Kestrel with no endpoint would listen on :5000).
    web = HvSiloOptions.Bind(new ConfigurationBuilder()
        .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
        .AddEnvironmentVariables().AddCommandLine(args).Build()).Web;
}
catch (OptionsValidationException e)
{
    // A bad setting stops the silo before it joins anything, naming the key and value.
    Console.Error.WriteLine($"HvOrleans silo: configuration refused: {string.Join("; ", e.Failures)}");
    return 2;
}

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
    builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Parse(web.Address), web.Port));
    builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter("HvOrleans.*").AddPrometheusExporter());
    var app = builder.Build();
    app.MapGet("/healthz", (ISiloStatusOracle silo) => silo.CurrentStatus == SiloStatus.Active
        ? Results.Text($"Active {silo.SiloAddress}\n")
        : Results.Text($"{silo.CurrentStatus} {silo.SiloAddress}\n", statusCode: StatusCodes.Status503ServiceUnavailable));
    app.MapPrometheusScrapingEndpoint("/metrics");
    app.MapOrleansDashboard(routePrefix: "/dashboard");
    await app.RunAsync();
}
return 0;
