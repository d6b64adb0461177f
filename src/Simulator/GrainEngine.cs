using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using HvOrleans.Grains;
using HvOrleans.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace HvOrleans.Simulator;

/// <summary>
/// (b)/(c) The same fleet as real host grains in a silo hosted by this process, with in-memory or
/// Azure (Azurite) state: one call per host per tick carries all its VMs' demands ([Immutable]
/// batch) and runs the pass; a host writes its state once when a pass resized anything. Writes are
/// counted from the grains' own storage meter, not inferred.
/// </summary>
public sealed class GrainEngine : ISimulationEngine
{
    private readonly IHost _silo;
    private readonly IGrainFactory _grains;
    private readonly MeterListener _writes = new();
    private readonly string _runId = Guid.NewGuid().ToString("N")[..8];
    private IHostGrain[] _hosts = [];
    private string[][] _vmIds = [];
    private int[][] _assignedMb = [], _highWaterMb = [];
    private (string[] HostOrder, int[] FleetIndex)[] _orders = [];
    private List<VmChange>[] _changes = [];
    private Task<BatchBalancing>[] _tick = [];
    private string _policy = "hyperv";
    private long _calls, _storageWrites;

    private GrainEngine(IHost silo, string storage)
    {
        (_silo, Storage) = (silo, storage);
        _grains = silo.Services.GetRequiredService<IGrainFactory>();
        _writes.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == StorageMetrics.MeterName && instrument.Name == StorageMetrics.WritesName) listener.EnableMeasurementEvents(instrument);
        };
        _writes.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _storageWrites, value));
        _writes.Start();
    }

    public string Storage { get; }
    public long GrainCalls => Interlocked.Read(ref _calls);
    public long StorageWrites => Interlocked.Read(ref _storageWrites);

    /// <summary>Starts a private silo: <paramref name="storage"/> is <c>memory</c> or <c>azure</c> (needs a connection string).</summary>
    public static async Task<GrainEngine> StartAsync(string storage, string? connectionString)
    {
        bool azure = storage == "azure";
        Rule.Require(!azure || !string.IsNullOrEmpty(connectionString), "sim-azure-connection",
            "--storage azure needs Azurite: start the local cluster (infra/cluster.sh up) or set Hv__ConnectionString.");
        string id = $"sim-{Guid.NewGuid():N}"[..16];
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Hv:Storage"] = azure ? "Azure" : "Memory",
            ["Hv:ConnectionString"] = connectionString,
            ["Hv:ClusterId"] = id,
            ["Hv:ServiceId"] = id,
            ["Hv:SiloPort"] = $"{FreePort()}",
            ["Hv:GatewayPort"] = $"{FreePort()}",
            // The simulator drives every pass itself, in virtual time: the balancers' timers stay quiet.
            ["Hv:Balancer:BalancingPeriod"] = "1.00:00:00",
            ["Hv:Balancer:ReminderPeriod"] = "1.00:00:00",
        });
        builder.Logging.ClearProviders();
        builder.UseOrleans(silo => silo.AddHvSilo(builder.Configuration));
        // One silo holds every grain and its directory: a directory cache only repeats the silo's own
        // directory, at the price of a second lookup (and its LRU bookkeeping) on every call — without
        // it the grains ran 4.7 → 5.4 M VM-ticks/s (docs/BENCHMARKS.md). A cluster's silos keep theirs.
        builder.Services.Configure<GrainDirectoryOptions>(o => o.CachingStrategy = GrainDirectoryOptions.CachingStrategyType.None);
        var host = builder.Build();
        await host.StartAsync();
        return new GrainEngine(host, storage);
    }

    public async Task<int[][]> SetUpAsync(Fleet fleet, IBalancingPolicy policy)
    {
        _policy = policy.Name;
        _hosts = fleet.Hosts.Select(h => _grains.GetGrain<IHostGrain>($"{_runId}-{policy.Name}-{h.HostId}")).ToArray();
        _vmIds = fleet.Hosts.Select(h => h.Vms.Select(v => v.VmId).ToArray()).ToArray();
        _highWaterMb = fleet.Hosts.Select(h => h.Vms.Select(v => v.Config.StartupMb).ToArray()).ToArray();
        _orders = new (string[], int[])[fleet.Hosts.Length];
        _changes = fleet.Hosts.Select(_ => new List<VmChange>()).ToArray();
        _tick = new Task<BatchBalancing>[fleet.Hosts.Length];
        var assigned = new int[fleet.Hosts.Length][];
        await ForEachHostAsync(async h =>
        {
            var host = fleet.Hosts[h];
            await _hosts[h].Add(host.MemoryMb, host.ReserveMb);
            var booted = await _hosts[h].Provision(fleet.Placements(host));
            assigned[h] = host.Vms.Select(v => booted.AssignedMbByVm[v.VmId]).ToArray();
            Interlocked.Add(ref _calls, 2);
        });
        _assignedMb = assigned.Select(a => a.ToArray()).ToArray();
        return assigned;
    }

    /// <summary>
    /// One call per host with its VMs' demands as arrays: the ids array is the same every tick and the
    /// demands array is the runner's, which it does not touch until every host has answered.
    /// </summary>
    public async Task<IReadOnlyList<VmChange>[]> TickAsync(int[][] demandsMb)
    {
        // Every host's call at once: each is a different grain, and a thousand calls in flight cost the
        // silo less than a bounded loop's hand-off of each (Parallel.ForEachAsync's lock, per host). The
        // answers are taken once all are in, on both cores, rather than by a continuation per call.
        for (int h = 0; h < _tick.Length; h++) _tick[h] = _hosts[h].ReportAndBalance(new DemandBatch(_vmIds[h], demandsMb[h]), _policy, Passes.MaxPerTick);
        await Task.WhenAll(_tick);
        Interlocked.Add(ref _calls, _tick.Length);
        Hosts.ForEach(_tick.Length, _vmIds.Length == 0 ? 0 : _vmIds[0].Length, h => Take(h, _tick[h].Result));
        return _changes;
    }

    /// <summary>A host's answer: what its VMs now hold, and its changes in fleet order.</summary>
    private void Take(int h, BatchBalancing result)
    {
        var fleetIndex = FleetIndex(h, result.VmIds);
        var (assigned, highWater, changes) = (_assignedMb[h], _highWaterMb[h], _changes[h]);
        changes.Clear();
        for (int k = 0; k < result.Resized.Length; k++)
        {
            int j = fleetIndex[result.Resized[k]];
            changes.Add(new VmChange(j, assigned[j], highWater[j], result.AssignedMb[k], result.HighWaterMb[k]));
            (assigned[j], highWater[j]) = (result.AssignedMb[k], result.HighWaterMb[k]);
        }
    }

    /// <summary>The fleet's position of each VM in the host's order: worked out again only when the host sends another order.</summary>
    private int[] FleetIndex(int h, string[] hostOrder)
    {
        if (ReferenceEquals(_orders[h].HostOrder, hostOrder)) return _orders[h].FleetIndex;
        var position = _vmIds[h].Select((id, j) => (id, j)).ToDictionary(x => x.id, x => x.j, StringComparer.Ordinal);
        var fleetIndex = hostOrder.Select(id => position[id]).ToArray();
        _orders[h] = (hostOrder, fleetIndex);
        return fleetIndex;
    }

    /// <summary>All hosts at once, bounded so a large fleet does not flood the silo's queues.</summary>
    private Task ForEachHostAsync(Func<int, Task> work) =>
        Parallel.ForEachAsync(Enumerable.Range(0, _hosts.Length), new ParallelOptions { MaxDegreeOfParallelism = 256 },
            async (h, _) => await work(h));

    public async ValueTask DisposeAsync()
    {
        _writes.Dispose();
        await _silo.StopAsync();
        _silo.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
