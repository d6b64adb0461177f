using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using HvOrleans.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HvOrleans.Tests.EndToEnd;

/// <summary>
/// A silo process's web side (Hv:Web:Port): /healthz says Active, /metrics serves the HvOrleans
/// meters under the names the README documents, with the figures hv shows, and the Orleans Dashboard
/// answers under /dashboard with this cluster's silo and the calls hv made.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class SiloWebTests(AzuriteFixture azurite, ITestOutputHelper log)
{
    /// <summary>The Prometheus names the README's "Metrics" table lists.</summary>
    public static readonly string[] DocumentedNames =
    [
        "hv_host_capacity_megabytes", "hv_host_assigned_megabytes", "hv_host_demand_megabytes",
        "hv_vm_assigned_megabytes", "hv_vm_demand_megabytes", "hv_vm_pressure_percent",
        "hv_balancer_passes_total", "hv_balancer_resizes_total", "hv_balancer_hot_added_megabytes_total",
        "hv_balancer_pass_duration_milliseconds_bucket", "hv_storage_writes_total",
    ];

    [Fact]
    public async Task A_silo_serves_its_health_and_the_documented_metrics_with_the_figures_hv_shows()
    {
        var cluster = new ClusterSettings(azurite.ConnectionString);
        int port = Repo.FreePort();
        await using var silo = await SiloProcess.StartAsync(cluster, new Dictionary<string, string> { ["Hv__Web__Port"] = $"{port}" });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        var health = await http.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.StartsWith("Active", await health.Content.ReadAsStringAsync());

        var hv = new HvConsole(cluster);
        await hv.OkAsync("host", "add", "web1", "--memory-mb", "8192", "--reserve-mb", "1024");
        await hv.OkAsync("vm", "create", "webvm", "--host", "web1", "--startup-mb", "1024", "--min-mb", "512", "--max-mb", "4096");
        await hv.OkAsync("vm", "start", "webvm");
        await hv.OkAsync("vm", "demand", "webvm", "--mb", "2000");
        await hv.OkAsync("balance", "web1");
        var vm = await hv.JsonAsync("vm", "show", "webvm");

        // hv watch, one frame into a pipe: the 80×24 screen, with the figures hv vm show printed.
        var (code, screen, stderr) = await hv.RunAsync("watch", "host", "web1", "--count", "1");
        log.WriteLine(screen);
        Assert.True(code == 0, stderr);
        var lines = screen.TrimEnd('\n').Split('\n');
        Assert.InRange(lines.Length, 4, 24);
        Assert.All(lines, l => Assert.True(l.Length <= 80, l));
        Assert.Matches($@"^webvm +{vm.GetProperty("assignedMb").GetInt32()} +{vm.GetProperty("demandMb").GetInt32()} +{vm.GetProperty("pressure").GetInt32()}% ", lines[2]);
        // hv vm show over the web side prints what it prints through Orleans. The web-only console names a
        // cluster id no silo has, so only the web side can answer it; a refusal is the same rule.
        var webOnly = new HvConsole(cluster, new Dictionary<string, string> { ["Hv__Client__WebUrls__0"] = $"http://127.0.0.1:{port}", ["Hv__ClusterId"] = "no-such-cluster" });
        foreach (var args in new[] { new[] { "vm", "show", "webvm" }, ["vm", "show", "webvm", "--json"] })
            Assert.Equal(await hv.RunAsync(args), await webOnly.RunAsync(args));
        var (refusedCode, _, refusedWhy) = await webOnly.RunAsync("vm", "show", "no-such-vm");
        Assert.Equal((1, "hv: refused [vm-must-exist]: VM no-such-vm does not exist; create it with 'hv vm create'.\n"), (refusedCode, refusedWhy));

        var frame = await hv.JsonAsync("watch", "vm", "webvm", "--count", "1");
        Assert.Equal(vm.GetProperty("assignedMb").GetInt32(), frame.GetProperty("vms")[0].GetProperty("assignedMb").GetInt32());

        string metrics = await http.GetStringAsync("/metrics");
        log.WriteLine(string.Join('\n', metrics.Split('\n').Where(l => l.StartsWith("hv_", StringComparison.Ordinal))));
        foreach (var name in DocumentedNames) Assert.Contains(name, metrics);
        Assert.Equal(vm.GetProperty("assignedMb").GetInt32(), Value(metrics, "hv_vm_assigned_megabytes", "webvm"));
        Assert.Equal(vm.GetProperty("demandMb").GetInt32(), Value(metrics, "hv_vm_demand_megabytes", "webvm"));
        Assert.Equal(vm.GetProperty("pressure").GetInt32(), Value(metrics, "hv_vm_pressure_percent", "webvm"));
        Assert.Equal(7168, Value(metrics, "hv_host_capacity_megabytes", "web1"));

        var page = await http.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("<html", await page.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        // The dashboard's counters: one active silo, and the host grain among the grains it profiled.
        string counters = await Eventually.WaitForAsync(() => http.GetStringAsync("/dashboard/DashboardCounters"), json =>
        {
            var root = JsonDocument.Parse(json).RootElement;
            return root.GetProperty("totalActiveHostCount").GetInt32() == 1
                && root.GetProperty("simpleGrainStats").EnumerateArray().Any(g => g.GetProperty("grainType").GetString()!.Contains("HostGrain"));
        }, "the dashboard's counters to show one silo and the HostGrain calls", seconds: 20);
        log.WriteLine(counters[..Math.Min(400, counters.Length)]);
    }

    /// <summary>The value of <paramref name="name"/>'s sample whose labels name <paramref name="id"/>.</summary>
    private static int Value(string metrics, string name, string id)
    {
        var match = Regex.Match(metrics, $@"^{name}\{{[^}}]*""{Regex.Escape(id)}""[^}}]*\}} ([0-9.eE+-]+)", RegexOptions.Multiline);
        Assert.True(match.Success, $"no {name} sample for {id}");
        return (int)double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }
}
