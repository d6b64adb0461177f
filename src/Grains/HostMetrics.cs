using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace HvOrleans.Grains;

/// <summary>
/// Each host's and VM's memory as the silo holding the host grain sees it, read when metrics are
/// scraped (Meter <c>HvOrleans.Hosts</c>): gauges with <c>host</c> and <c>vm</c> tags. A host grain
/// publishes its state on activation and on every change while it is active on this silo (grain state
/// can only be read on the grain's own turn, not on a scrape's thread), so every silo exports the hosts
/// it holds. A host driven by demand batches shows a VM's demand as of its last resize or the host's
/// last read, as its state in storage does.
/// </summary>
internal static class HostMetrics
{
    private static readonly Meter Meter = new("HvOrleans.Hosts");
    private static readonly ConcurrentDictionary<string, Publication> Hosts = new(StringComparer.Ordinal);

    static HostMetrics()
    {
        Meter.CreateObservableGauge("hv.host.capacity", () => ForHosts(h => h.CapacityMb), "MBy", "Host memory for guests: memory − reserve");
        Meter.CreateObservableGauge("hv.host.assigned", () => ForHosts(h => (int)h.AssignedMb), "MBy", "Memory assigned to the host's running VMs");
        Meter.CreateObservableGauge("hv.host.demand", () => ForHosts(h => h.Vms.Values.Where(v => v.Memory.Running).Sum(v => v.Memory.DemandMb)), "MBy",
            "What the host's running guests ask for");
        Meter.CreateObservableGauge("hv.vm.assigned", () => ForVms(v => v.Memory.AssignedMb), "MBy", "A running VM's assigned memory");
        Meter.CreateObservableGauge("hv.vm.demand", () => ForVms(v => v.Memory.DemandMb), "MBy", "A running VM's demand");
        Meter.CreateObservableGauge("hv.vm.pressure", () => ForVms(v => HostMemoryView.Of(v.Config, v.Memory).Pressure), "%",
            "Demand / assigned, as Hyper-V Manager shows it");
    }

    /// <summary>
    /// A host grain's activation registers once and then shows each new state by a plain write to its own
    /// publication, so a change of state (every balancing tick) costs a field write, not a hash and a
    /// shared dictionary's update.
    /// </summary>
    public static Publication Register(string hostId, HostState state)
    {
        var publication = new Publication(state);
        Hosts[hostId] = publication;
        return publication;
    }

    /// <summary>Only this activation's publication: a newer activation of the same host on this silo keeps its own.</summary>
    public static void Unregister(string hostId, Publication publication) => Hosts.TryRemove(KeyValuePair.Create(hostId, publication));

    private static IEnumerable<Measurement<int>> ForHosts(Func<HostState, int> figure) =>
        Hosts.Select(h => (Id: h.Key, h.Value.State)).Where(h => h.State.Exists)
            .Select(h => new Measurement<int>(figure(h.State), new KeyValuePair<string, object?>("host", h.Id)));

    private static IEnumerable<Measurement<int>> ForVms(Func<HostedVm, int> figure) =>
        Hosts.SelectMany(h => h.Value.State.Vms.Where(v => v.Value.Memory.Running).Select(v => new Measurement<int>(figure(v.Value),
            new KeyValuePair<string, object?>("host", h.Key), new KeyValuePair<string, object?>("vm", v.Key))));

    /// <summary>One host activation's latest state, written on the grain's turn and read on a scrape's thread.</summary>
    public sealed class Publication(HostState state)
    {
        private volatile HostState _state = state;

        public HostState State => _state;

        public void Show(HostState state) => _state = state;
    }
}
