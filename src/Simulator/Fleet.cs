namespace HvOrleans.Simulator;

/// <summary>A simulated VM: its configuration and which trace series (shifted by an offset) drives it.</summary>
public sealed record FleetVm(string VmId, VmConfig Config, int TraceVm, int OffsetTicks);

/// <summary>How a fleet's VMs are configured from the trace (<c>--vm-sizing</c>).</summary>
public enum VmSizing
{
    /// <summary>From what each VM was provisioned, P: Maximum P, Startup P/8, Minimum P/16.</summary>
    Provisioned,

    /// <summary>
    /// Around what each VM was seen to use, as an admin sizes a XenServer VM's dynamic range from its
    /// history: Minimum ½ × its mean demand, Startup its mean, Maximum 1.25 × its peak (at least 256,
    /// 512 and Startup MB; never above what it was provisioned).
    /// </summary>
    Observed,
}

public sealed record FleetHost(string HostId, int MemoryMb, int ReserveMb, FleetVm[] Vms)
{
    public int CapacityMb => MemoryMb - ReserveMb;
}

/// <summary>
/// Hosts and VMs built from a trace. Config rule, from a VM's provisioned memory P: Maximum = P,
/// Startup = P/8 (at least 512 MB), Minimum = P/16 (at least 256 MB), buffer 20 %, weight 5000, all in
/// whole pages. Fleet VM k replays trace series k mod N; every copy after the first is shifted by a
/// seeded offset so that copies do not peak together. Host memory, unless given: 1.2 × the mean
/// demand of its VMs plus the reserve, in whole GB, and never less than the sum of their Startups.
/// VMs boot one after another (each boot may balloon the ones already running); a fleet whose VMs
/// cannot all boot that way is refused when it is set up.
/// </summary>
public sealed class Fleet
{
    public const int DefaultReserveMb = 1024;

    private Fleet(DemandTrace trace, FleetHost[] hosts) => (Trace, Hosts) = (trace, hosts);

    public DemandTrace Trace { get; }
    public FleetHost[] Hosts { get; }
    public int VmCount => Hosts.Sum(h => h.Vms.Length);

    /// <summary>The host's VMs in boot order, each with the demand its guest reports at tick 0.</summary>
    public List<VmPlacement> Placements(FleetHost host) => host.Vms.Select(v => new VmPlacement(v.VmId, v.Config, DemandMb(v, 0))).ToList();

    public int DemandMb(FleetVm vm, int tick) => Math.Min(vm.Config.MaximumMb, Trace.DemandMb(vm.TraceVm, tick + vm.OffsetTicks));

    public static VmConfig ConfigFor(int provisionedMb, GuestKernel kernel = GuestKernel.Legacy)
    {
        int Pages(long mb) => (int)((mb + 1) / VmConfig.PageMb * VmConfig.PageMb);
        int maximum = Math.Clamp(Pages(provisionedMb), 512, VmConfig.LargestMaximumMb);
        int startup = Math.Min(maximum, Math.Max(512, Pages(provisionedMb / 8)));
        int minimum = Math.Min(startup, Math.Max(256, Pages(provisionedMb / 16)));
        return new VmConfig(startup, minimum, maximum, Kernel: kernel);
    }

    /// <summary>A VM's configuration from what it was seen to use (<see cref="VmSizing.Observed"/>).</summary>
    public static VmConfig ObservedConfigFor(int provisionedMb, double meanMb, int peakMb, GuestKernel kernel = GuestKernel.Legacy)
    {
        int Pages(double mb) => (int)(mb / VmConfig.PageMb) * VmConfig.PageMb;
        int ceiling = Math.Clamp(Pages(provisionedMb + 1), 512, VmConfig.LargestMaximumMb);
        int startup = Math.Min(ceiling, Math.Max(512, Pages(meanMb)));
        int maximum = Math.Min(ceiling, Math.Max(startup, Pages(1.25 * peakMb)));
        int minimum = Math.Min(startup, Math.Max(256, Pages(meanMb / 2)));
        return new VmConfig(startup, minimum, maximum, Kernel: kernel);
    }

    public static Fleet Build(DemandTrace trace, int hosts, int vmsPerHost, int? hostMemoryMb, int seed, string prefix = "sim",
        GuestKernel kernel = GuestKernel.Legacy, VmSizing sizing = VmSizing.Provisioned)
    {
        Rule.Require(hosts is > 0 and <= 100_000 && vmsPerHost is > 0 and <= 10_000, "fleet-size",
            $"A fleet is 1-100000 hosts of 1-10000 VMs; got {hosts} × {vmsPerHost}.");
        var random = new Random(seed);
        var meanMb = Enumerable.Range(0, trace.VmCount).Select(v => Enumerable.Range(0, trace.Ticks).Average(t => (double)trace.DemandMb(v, t))).ToArray();
        var configs = Enumerable.Range(0, trace.VmCount).Select(v => sizing == VmSizing.Observed
            ? ObservedConfigFor(trace.ProvisionedMb(v), meanMb[v], Enumerable.Range(0, trace.Ticks).Max(t => trace.DemandMb(v, t)), kernel)
            : ConfigFor(trace.ProvisionedMb(v), kernel)).ToArray();
        var fleetHosts = new FleetHost[hosts];
        for (int h = 0; h < hosts; h++)
        {
            var vms = new FleetVm[vmsPerHost];
            for (int j = 0; j < vmsPerHost; j++)
            {
                int k = h * vmsPerHost + j, series = k % trace.VmCount;
                int offset = k < trace.VmCount ? 0 : random.Next(trace.Ticks);
                vms[j] = new FleetVm($"{prefix}-h{h}-v{j}", configs[series], series, offset);
            }
            long bootMb = vms.Sum(v => (long)v.Config.StartupMb) + DefaultReserveMb;
            long autoMb = (long)(1.2 * vms.Sum(v => meanMb[v.TraceVm])) + DefaultReserveMb;
            long memoryMb = hostMemoryMb ?? (Math.Max(autoMb, bootMb) + 1023) / 1024 * 1024;
            fleetHosts[h] = new FleetHost($"{prefix}-h{h}", (int)memoryMb, DefaultReserveMb, vms);
        }
        return new Fleet(trace, fleetHosts);
    }
}
