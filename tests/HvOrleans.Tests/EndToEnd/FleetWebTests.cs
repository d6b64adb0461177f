using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using HvOrleans.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HvOrleans.Tests.EndToEnd;

/// <summary>
/// A silo process's fleet page and HTTP API. The page, in Debian's headless Chromium, shows the
/// figures hv --json prints and updates itself when they change (the same page, read over the
/// DevTools protocol); its screenshot is kept in TestResults/artifacts. The API drives a backup from
/// start to restore, refuses changes without the token, and names the rules hv names.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class FleetWebTests(AzuriteFixture azurite, ITestOutputHelper log)
{
    private const string Token = "test-token-0123456789abcdef";
    public static readonly string Screenshot = Path.Combine(Repo.Root, "TestResults", "artifacts", "fleet-page.png");

    private static async Task<(SiloProcess Silo, HttpClient Http, HvConsole Hv)> StartAsync(ClusterSettings cluster)
    {
        int port = Repo.FreePort();
        var silo = await SiloProcess.StartAsync(cluster, new Dictionary<string, string>
        {
            ["Hv__Web__Port"] = $"{port}", ["Hv__Web__ApiToken"] = Token, ["Hv__Backup__WritebackPeriod"] = "01:00:00",
        });
        return (silo, new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") }, new HvConsole(cluster));
    }

    [Fact]
    public async Task The_fleet_page_shows_hvs_figures_and_updates_itself_in_headless_Chromium()
    {
        var cluster = new ClusterSettings(azurite.ConnectionString);
        var (silo, http, hv) = await StartAsync(cluster);
        await using var _ = silo;
        using var __ = http;
        await hv.OkAsync("host", "add", "page1", "--memory-mb", "16384", "--reserve-mb", "1024");
        foreach (var (vm, startup, demand) in new[] { ("grower", 1024, 2500), ("idler", 2048, 600) })
        {
            await hv.OkAsync("vm", "create", vm, "--host", "page1", "--startup-mb", $"{startup}", "--min-mb", "512", "--max-mb", "8192");
            await hv.OkAsync("vm", "start", vm);
            await hv.OkAsync("vm", "demand", vm, "--mb", $"{demand}");
        }
        await hv.OkAsync("balance", "page1");

        await using var page = await HeadlessChromium.OpenAsync($"{http.BaseAddress}");
        // The balancer keeps running, so compare until both sides read the same settled figures.
        await Eventually.WaitForAsync(async () => await PageAgreesWithHvAsync(page, hv), agree => agree, "the page's figures to equal hv --json", seconds: 30);
        int refreshes = (await page.EvaluateAsync("+document.body.dataset.refreshes")).GetInt32();

        // Live: the same page picks up a change within seconds, without being reloaded.
        await hv.OkAsync("vm", "demand", "idler", "--mb", "3000");
        await hv.OkAsync("balance", "page1");
        await Eventually.WaitForAsync(() => page.EvaluateAsync("document.querySelector('tr[data-vm=\"idler\"]').dataset.demandMb"),
            v => v.GetString() == "3000", "the open page to show idler's new demand", seconds: 20);
        Assert.True((await page.EvaluateAsync("+document.body.dataset.refreshes")).GetInt32() > refreshes);
        await Eventually.WaitForAsync(async () => await PageAgreesWithHvAsync(page, hv), agree => agree, "the page to agree with hv after the change", seconds: 30);
        Assert.Equal(2, (await page.EvaluateAsync("document.querySelectorAll('tr[data-vm] svg.spark polyline').length / 2")).GetInt32());

        await page.ScreenshotAsync(Screenshot);
        Assert.True(new FileInfo(Screenshot).Length > 10_000, "the screenshot is an image of the page");
        log.WriteLine($"screenshot: {Screenshot}");
    }

    /// <summary>Every VM row's Assigned, Demand and Pressure, and the host's assigned total, as hv --json prints them.</summary>
    private static async Task<bool> PageAgreesWithHvAsync(HeadlessChromium page, HvConsole hv)
    {
        var rows = await page.EvaluateAsync("""
            [...document.querySelectorAll('section[data-host] tr[data-vm]')].map(r => [r.dataset.vm, +r.dataset.assignedMb, +r.dataset.demandMb, +r.dataset.pressure])
            """);
        if (rows.ValueKind != JsonValueKind.Array || rows.GetArrayLength() != 2) return false;
        foreach (var row in rows.EnumerateArray())
        {
            var vm = await hv.JsonAsync("vm", "show", row[0].GetString()!);
            if ((vm.GetProperty("assignedMb").GetInt32(), vm.GetProperty("demandMb").GetInt32(), vm.GetProperty("pressure").GetInt32())
                != (row[1].GetInt32(), row[2].GetInt32(), row[3].GetInt32())) return false;
        }
        var host = await hv.JsonAsync("host", "show", "page1");
        return (await page.EvaluateAsync("+document.querySelector('section[data-host=\"page1\"]').dataset.assignedMb")).GetInt64() == host.GetProperty("assignedMb").GetInt64();
    }

    [Fact]
    public async Task A_backup_utility_drives_a_backup_through_the_API_from_start_to_restore()
    {
        var cluster = new ClusterSettings(azurite.ConnectionString);
        var (silo, http, hv) = await StartAsync(cluster);
        await using var _ = silo;
        using var __ = http;
        await hv.OkAsync("host", "add", "api1", "--memory-mb", "8192");
        await hv.OkAsync("vm", "create", "apivm", "--host", "api1", "--startup-mb", "1024", "--min-mb", "512", "--max-mb", "2048");
        await hv.OkAsync("vm", "start", "apivm");
        await hv.OkAsync("disk", "write", "apivm", "--offset", "4096", "--length", "65536", "--seed", "7");
        string sha = (await hv.JsonAsync("disk", "checksum", "apivm")).GetProperty("sha256").GetString()!;

        var start = new { vms = new[] { "apivm" }, jobId = "api-job-1" };
        // Without the token a change is refused and nothing starts.
        var refused = await http.PostAsJsonAsync("/api/v1/backup-jobs", start);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("api-token", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        Assert.Equal(0, (await http.GetFromJsonAsync<JsonElement>("/api/v1/backup-jobs")).GetArrayLength());

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        var started = await http.PostAsJsonAsync("/api/v1/backup-jobs", start);
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        Assert.Equal("/api/v1/backup-jobs/api-job-1", started.Headers.Location?.ToString());
        var job = await Eventually.WaitForAsync(() => http.GetFromJsonAsync<JsonElement>("/api/v1/backup-jobs/api-job-1"),
            j => j.GetProperty("state").GetString() is "Completed" or "Failed" or "Cancelled", "the job to end", seconds: 60);
        Assert.Equal("Completed", job.GetProperty("state").GetString());
        // The same document hv prints for the job.
        var shown = await hv.JsonAsync("backup", "show", "api-job-1");
        Assert.Equal(shown.GetProperty("vms")[0].GetProperty("sha256").GetString(), job.GetProperty("vms")[0].GetProperty("sha256").GetString());
        Assert.Equal("api-job-1", (await http.GetFromJsonAsync<JsonElement>("/api/v1/backup-jobs"))[0].GetProperty("jobId").GetString());

        var backups = await http.GetFromJsonAsync<JsonElement>("/api/v1/vms/apivm/backups");
        string backupId = backups[0].GetProperty("backupId").GetString()!;
        Assert.Equal("apivm@api-job-1", backupId);
        var verify = await (await http.PostAsync($"/api/v1/backups/{backupId}/verify", null)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(verify.GetProperty("ok").GetBoolean());

        var restore = new { to = "apivm-copy", operationId = "op-api-1" };
        var restored = await (await http.PostAsJsonAsync($"/api/v1/backups/{backupId}/restore", restore)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(("apivm-copy", "api1", sha), (restored.GetProperty("vmId").GetString(), restored.GetProperty("hostId").GetString(), restored.GetProperty("sha256").GetString()));
        Assert.Equal(sha, (await hv.JsonAsync("disk", "checksum", "apivm-copy")).GetProperty("sha256").GetString());
        // The same operation again returns the VM it made.
        var again = await http.PostAsJsonAsync($"/api/v1/backups/{backupId}/restore", restore);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);

        // A refusal carries the rule id hv prints in brackets, and the right status.
        var (code, _, stderr) = await hv.RunAsync("backup", "start", "no-such-vm", "--job", "api-job-2");
        var missing = await http.PostAsJsonAsync("/api/v1/backup-jobs", new { vms = new[] { "no-such-vm" }, jobId = "api-job-2" });
        var error = await missing.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, code);
        Assert.Contains($"refused [{error.GetProperty("error").GetString()}]", stderr);
        Assert.Contains(missing.StatusCode, new[] { HttpStatusCode.NotFound, HttpStatusCode.Conflict });
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/api/v1/vms/no-such-vm")).StatusCode);

        // The OpenAPI document describes every route.
        var openApi = await http.GetFromJsonAsync<JsonElement>("/api/v1/openapi.json");
        var paths = openApi.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        foreach (var route in new[] { "/api/v1/fleet", "/api/v1/hosts", "/api/v1/hosts/{hostId}", "/api/v1/vms/{vmId}", "/api/v1/vms/{vmId}/backups", "/api/v1/backup-jobs",
                     "/api/v1/backup-jobs/{jobId}", "/api/v1/backup-jobs/{jobId}/cancel", "/api/v1/backups/{backupId}/verify", "/api/v1/backups/{backupId}/restore" })
            Assert.Contains(route, paths);
    }
}
