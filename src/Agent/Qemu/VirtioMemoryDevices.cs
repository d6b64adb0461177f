using System.Text.Json;
using System.Text.Json.Nodes;

namespace HvOrleans.Agent.Qemu;

/// <summary>
/// virtio-balloon (id <c>balloon0</c>) and virtio-mem (id <c>vmem0</c>, absent when Maximum = Startup)
/// through QMP. The balloon's target is relative to boot RAM only, which here is Startup.
/// </summary>
public sealed class VirtioMemoryDevices(QmpClient qmp, int startupMb, bool hasVirtioMem) : IGuestMemoryDevices
{
    private const string Balloon = "/machine/peripheral/balloon0", VirtioMem = "/machine/peripheral/vmem0";
    private const long MiB = 1024 * 1024;
    /// <summary>What the balloon driver reports for a statistic it does not have (yet).</summary>
    private const ulong Unknown = ulong.MaxValue;

    public async Task StartStatisticsAsync(CancellationToken cancellationToken) =>
        await qmp.ExecuteAsync("qom-set", new JsonObject { ["path"] = Balloon, ["property"] = "guest-stats-polling-interval", ["value"] = 1 }, cancellationToken);

    public async Task<DeviceReading> ReadAsync(CancellationToken cancellationToken)
    {
        var balloon = await qmp.ExecuteAsync("query-balloon", null, cancellationToken);
        int balloonedMb = startupMb - (int)(balloon.GetProperty("actual").GetInt64() / MiB);
        int pluggedMb = hasVirtioMem
            ? (int)((await qmp.ExecuteAsync("qom-get", new JsonObject { ["path"] = VirtioMem, ["property"] = "size" }, cancellationToken)).GetInt64() / MiB)
            : 0;
        var stats = await qmp.ExecuteAsync("qom-get", new JsonObject { ["path"] = Balloon, ["property"] = "guest-stats" }, cancellationToken);
        return new DeviceReading(balloonedMb, pluggedMb, Parse(stats));
    }

    private static GuestStats? Parse(JsonElement guestStats)
    {
        if (guestStats.GetProperty("last-update").GetInt64() == 0) return null;
        var s = guestStats.GetProperty("stats");
        ulong Read(string name) => s.TryGetProperty(name, out var v) ? v.GetUInt64() : Unknown;
        ulong total = Read("stat-total-memory"), free = Read("stat-free-memory"), available = Read("stat-available-memory"), caches = Read("stat-disk-caches");
        if (total == Unknown || free == Unknown || available == Unknown) return null;
        return new GuestStats((int)(total / MiB), (int)(free / MiB), (int)(available / MiB), caches == Unknown ? 0 : (int)(caches / MiB));
    }

    public async Task ApplyAsync(DeviceTargets targets, CancellationToken cancellationToken)
    {
        // Give before taking is not needed for safety here (both are targets the guest moves toward),
        // but the balloon goes first so that memory a grow returns is usable before more is plugged.
        await qmp.ExecuteAsync("balloon", new JsonObject { ["value"] = (long)(startupMb - targets.BalloonMb) * MiB }, cancellationToken);
        if (hasVirtioMem)
            await qmp.ExecuteAsync("qom-set", new JsonObject { ["path"] = VirtioMem, ["property"] = "requested-size", ["value"] = (long)targets.PluggedMb * MiB }, cancellationToken);
    }
}
