using System.Security.Cryptography;
using System.Text;
using HvOrleans.Backup;
using HvOrleans.Cli;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace HvOrleans.Silo.Web;

/// <summary>
/// <c>/api/v1</c>: hosts, VMs and backups as JSON for backup utilities and automation, in the shapes
/// <c>hv --json</c> prints, under the rules and error ids hv reports. Reads are open like
/// <c>/metrics</c>; every change (POST) needs the bearer token of <c>Hv:Web:ApiToken</c> when one is
/// set, or, with TLS on, a client certificate of the cluster's CA.
/// </summary>
public static class FleetApi
{
    public const string Prefix = "/api/v1";

    public sealed record StartBackupRequest(IReadOnlyList<string> Vms, bool Incremental = false, string? JobId = null);

    public sealed record RestoreRequest(string To, string? HostId = null, string? OperationId = null);

    public sealed record FleetJson(IReadOnlyList<WatchJson> Hosts, IReadOnlyList<BackupJobJson> Backups, DateTimeOffset At);

    /// <param name="token">The bearer token changes need, or null.</param>
    /// <param name="clientCertificates">TLS is on: a client certificate of the cluster's CA (Kestrel accepts no other) authorizes changes too.</param>
    public static void MapFleetApi(this WebApplication app, string? token, bool clientCertificates)
    {
        var api = app.MapGroup(Prefix).AddEndpointFilter(async (context, next) =>
        {
            try
            {
                return await next(context);
            }
            catch (HvRuleException e)
            {
                // A missing thing is 404; any other refusal is a conflict with the rules: nothing changed.
                int status = e.Rule.Contains("must-exist", StringComparison.Ordinal) ? StatusCodes.Status404NotFound : StatusCodes.Status409Conflict;
                return Results.Json(new ErrorJson(e.Rule, e.Message), statusCode: status);
            }
        });
        bool open = token is null && !clientCertificates;
        var changes = api.MapGroup("").AddEndpointFilter(async (context, next) =>
            open || (token is not null && Authorized(context.HttpContext.Request, token))
                 || (clientCertificates && context.HttpContext.Connection.ClientCertificate is not null)
                ? await next(context)
                : Results.Json(new ErrorJson("api-token", clientCertificates
                        ? "This change needs a client certificate of the cluster's CA, or 'Authorization: Bearer <token>' with the cluster's API token (Hv:Web:ApiToken)."
                        : "This change needs 'Authorization: Bearer <token>' with the cluster's API token (Hv:Web:ApiToken)."),
                    statusCode: StatusCodes.Status401Unauthorized));

        api.MapGet("/fleet", async (IGrainFactory grains) => TypedResults.Ok(await FleetAsync(grains)))
            .WithSummary("Every host with its VMs and running backups, and the recent backup jobs (the fleet page's one read).");
        api.MapGet("/hosts", async (IGrainFactory grains) =>
                TypedResults.Ok((await Task.WhenAll((await grains.GetGrain<IFleetGrain>(0).Hosts()).Select(h => grains.GetGrain<IHostGrain>(h).GetInfo()))).Select(HostJson.Of).ToList()))
            .WithSummary("Every host: memory, reserve, assigned and available memory, its VMs.");
        api.MapGet("/hosts/{hostId}", async (string hostId, IGrainFactory grains) => TypedResults.Ok(await HostAsync(grains, hostId)))
            .WithSummary("A host with its VMs' memory views and the backups running on them (hv watch host --json).");
        api.MapGet("/vms/{vmId}", async (string vmId, IGrainFactory grains) => TypedResults.Ok(VmJson.Of(await grains.GetGrain<IVmGrain>(vmId).GetInfo())))
            .WithSummary("A VM: Hyper-V Manager's Memory tab and the guest's own figures (hv vm show --json).");
        api.MapGet("/vms/{vmId}/backups", async (string vmId, IGrainFactory grains) =>
                TypedResults.Ok((await grains.GetGrain<IBackupCatalogGrain>(vmId).List()).Select(BackupRecordJson.Of).ToList()))
            .WithSummary("A VM's backups, oldest first (hv backup list --vm --json).");
        api.MapGet("/backup-jobs", async (IGrainFactory grains) => TypedResults.Ok(await RecentJobsAsync(grains)))
            .WithSummary("The most recently started backup jobs, newest first.");
        api.MapGet("/backup-jobs/{jobId}", async (string jobId, IGrainFactory grains) => TypedResults.Ok(BackupJobJson.Of(await grains.GetGrain<IBackupJobGrain>(jobId).GetInfo())))
            .WithSummary("A backup job's state and each VM's step, bytes and freeze window (hv backup show --json).");

        changes.MapPost("/backup-jobs", async (StartBackupRequest request, IGrainFactory grains) =>
            {
                // The caller may name the job, which makes a retried start safe; otherwise one is made here.
                string jobId = request.JobId ?? $"job-{DateTime.UtcNow:yyyyMMddHHmmss}-{Guid.NewGuid():N}"[..32];
                var job = await grains.GetGrain<IBackupJobGrain>(jobId).Start(request.Vms ?? [], request.Incremental);
                return TypedResults.Accepted($"{Prefix}/backup-jobs/{job.JobId}", BackupJobJson.Of(job));
            })
            .WithSummary("Starts a live backup of one or more running VMs (hv backup start); poll the returned job.");
        changes.MapPost("/backup-jobs/{jobId}/cancel", async (string jobId, IGrainFactory grains) => TypedResults.Ok(BackupJobJson.Of(await grains.GetGrain<IBackupJobGrain>(jobId).Cancel())))
            .WithSummary("Stops a job at its next safe point (hv backup cancel).");
        changes.MapPost("/backups/{backupId}/verify", async (string backupId, IGrainFactory grains) =>
                TypedResults.Ok(VerifyJson.Of(await grains.GetGrain<IBackupMediaGrain>(BackupIds.VmOf(backupId)).Verify(backupId))))
            .WithSummary("Re-reads a backup from the media and checks its SHA-256 (hv backup verify); ok is false when it does not match.");
        changes.MapPost("/backups/{backupId}/restore", async (string backupId, RestoreRequest request, IGrainFactory grains) =>
            {
                var report = await grains.GetGrain<IBackupMediaGrain>(BackupIds.VmOf(backupId))
                    .RestoreTo(backupId, request.To, request.OperationId ?? $"op-{Guid.NewGuid():N}", request.HostId);
                var disks = report.Disks.Select(d => new RestoredDiskJson(d.Index, d.SizeBytes, d.ImageSha256, d.FileSystemCheck, d.BytesRead)).ToList();
                string? sha = report.Vm.Driver == HostDriver.Qemu ? null : await grains.GetGrain<IGuestDiskGrain>(request.To).Sha256();
                return TypedResults.Ok(new RestoreJson(request.To, report.Vm.Snapshot.HostId, sha, report.Vm.Driver == HostDriver.Qemu ? disks : null));
            })
            .WithSummary("Restores a backup into a new, stopped VM (hv backup restore); the same operationId again returns the VM it made.");
    }

    public static async Task<FleetJson> FleetAsync(IGrainFactory grains)
    {
        var hosts = await grains.GetGrain<IFleetGrain>(0).Hosts();
        return new FleetJson(await Task.WhenAll(hosts.Select(h => HostAsync(grains, h))), await RecentJobsAsync(grains), DateTimeOffset.UtcNow);
    }

    private static async Task<WatchJson> HostAsync(IGrainFactory grains, string hostId)
    {
        var (host, vms, jobs) = await HostReads.ReadAsync(grains, hostId);
        return WatchJson.Of(host, vms, jobs, DateTimeOffset.UtcNow);
    }

    private static async Task<IReadOnlyList<BackupJobJson>> RecentJobsAsync(IGrainFactory grains)
    {
        var ids = await grains.GetGrain<IFleetGrain>(0).RecentBackupJobs();
        return (await Task.WhenAll(ids.Select(j => grains.GetGrain<IBackupJobGrain>(j).GetInfo()))).Select(BackupJobJson.Of).ToList();
    }

    private static bool Authorized(HttpRequest request, string token)
    {
        string given = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        return given.StartsWith(scheme, StringComparison.Ordinal)
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given[scheme.Length..]), Encoding.UTF8.GetBytes(token));
    }
}
