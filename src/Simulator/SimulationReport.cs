using System.Globalization;
using System.Net;
using System.Text;

namespace HvOrleans.Simulator;

/// <summary>The simulator's outputs: the <c>--json</c> document, a table, and the files of <c>--out</c>.</summary>
public static class SimulationReport
{
    public static SimRunJson Json(SimulationResult r)
    {
        var f = r.Fleet;
        return new(f.Trace.Name, f.Trace.TickSeconds, r.Ticks, f.Hosts.Length, f.Hosts[0].Vms.Length, f.Hosts[0].MemoryMb,
            f.Hosts[0].Vms[0].Config.Kernel.ToString().ToLowerInvariant(), r.Storage, r.Seed,
            r.Policies.Select(p => new SimPolicyJson(p.Name, Math.Round(p.UnmetDemandGbH(f.Trace.TickSeconds), 3),
                Math.Round(p.LaggedUnmetDemandGbH(f.Trace.TickSeconds), 3), Math.Round(p.PagingShare, 5), Math.Round(p.PressureShare, 5),
                Math.Round(p.MeanAssignedMb, 1), Math.Round(p.MeanDemandMb, 1), p.HotAddMb, p.BalloonMb, p.UnballoonMb,
                Math.Round(p.VmTicksPerSecond), Math.Round((double)p.ResizedVms / Math.Max(1, p.Ticks), 2),
                Math.Round((double)p.GrainCalls / Math.Max(1, p.Ticks), 2),
                Math.Round((double)p.StorageWrites / Math.Max(1, p.Ticks), 2), Math.Round(p.Seconds, 3), p.DensityVmsPerHost)).ToList());
    }

    public static string Table(SimulationResult r)
    {
        var j = Json(r);
        var text = new StringBuilder($"{j.Trace}: {j.Hosts} hosts × {j.VmsPerHost} VMs, host {j.HostMemoryMb} MB, guest kernel {j.GuestKernel}, {j.Ticks} ticks of {j.TickSeconds} s, storage {j.Storage}, seed {j.Seed}\n");
        text.Append($"{"policy",-10} {"unmet GB·h",12} {"lagged",8} {"paging",8} {"pressure",8} {"assigned MB",12} {"demand MB",10} {"hot-add MB",11} {"balloon MB",11} {"VM-ticks/s",11} {"resized/tick",12} {"calls/tick",10} {"writes/tick",11} {"density",8}\n");
        foreach (var p in j.Policies)
            text.Append($"{p.Name,-10} {p.UnmetDemandGbH,12:F1} {p.LaggedUnmetDemandGbH,8:F0} {p.PagingShare,8:P2} {p.PressureShare,8:P2} {p.MeanAssignedMb,12:F0} {p.MeanDemandMb,10:F0} {p.HotAddMb,11} {p.BalloonMb,11} {p.VmTicksPerSecond,11:F0} {p.ResizedVmsPerTick,12:F1} {p.GrainCallsPerTick,10:F1} {p.StorageWritesPerTick,11:F1} {p.DensityVmsPerHost?.ToString() ?? "-",8}\n");
        return text.ToString();
    }

    public static void Write(SimulationResult r, string folder)
    {
        Directory.CreateDirectory(folder);
        var j = Json(r);
        File.WriteAllText(Path.Combine(folder, "metrics.json"), JsonOutput.Serialize(j));
        var csv = new StringBuilder("policy,unmetDemandGbH,laggedUnmetDemandGbH,pagingShare,pressureShare,meanAssignedMb,meanDemandMb,hotAddMb,balloonMb,unballoonMb,vmTicksPerSecond,resizedVmsPerTick,grainCallsPerTick,storageWritesPerTick,densityVmsPerHost\n");
        foreach (var p in j.Policies)
            csv.Append(string.Join(',', p.Name, F(p.UnmetDemandGbH), F(p.LaggedUnmetDemandGbH), F(p.PagingShare), F(p.PressureShare), F(p.MeanAssignedMb), F(p.MeanDemandMb), p.HotAddMb,
                p.BalloonMb, p.UnballoonMb, F(p.VmTicksPerSecond), F(p.ResizedVmsPerTick), F(p.GrainCallsPerTick), F(p.StorageWritesPerTick), p.DensityVmsPerHost)).Append('\n');
        File.WriteAllText(Path.Combine(folder, "metrics.csv"), csv.ToString());
        var series = new StringBuilder("tick,fleetDemandMb," + string.Join(',', r.Policies.Select(p => $"fleetAssignedMb_{p.Name}")) + "\n");
        for (int t = 0; t < r.Ticks; t++)
            series.Append(t).Append(',').Append(r.FleetDemandMb[t]).Append(',').AppendJoin(',', r.Policies.Select(p => p.FleetAssignedMb[t])).Append('\n');
        File.WriteAllText(Path.Combine(folder, "timeseries.csv"), series.ToString());
        File.WriteAllText(Path.Combine(folder, "report.html"), Html(r, j));
    }

    private static string F(double v) => v.ToString("0.#####", CultureInfo.InvariantCulture);

    private static readonly string[] Colors = ["#888888", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#d62728", "#8c564b"];

    private static string Html(SimulationResult r, SimRunJson j)
    {
        var html = new StringBuilder("""
            <!doctype html><html><head><meta charset="utf-8"><title>HvOrleans fleet simulation</title>
            <style>body{font-family:system-ui,sans-serif;margin:24px;max-width:1100px}table{border-collapse:collapse;font-size:12px}
            td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}
            .legend span{margin-right:14px}</style></head><body>
            """);
        html.Append($"<h1>Fleet simulation</h1><p>{WebUtility.HtmlEncode(j.Trace)}: {j.Hosts} hosts × {j.VmsPerHost} VMs, host memory {j.HostMemoryMb} MB, " +
                    $"{j.Ticks} ticks of {j.TickSeconds} s, storage <b>{j.Storage}</b>, seed {j.Seed}. Unmet demand is demand not covered by what a VM holds after the " +
                    "tick's balancing passes; <i>lagged</i> unmet demand is judged on what it held when its new demand arrived. Paging share: VM-ticks short after the passes; " +
                    "pressure share: VM-ticks whose new demand found the VM short (pressure over 100 %, Hyper-V's Warning) before the passes.</p>");
        html.Append("<table><tr><th>policy</th><th>unmet demand GB·h</th><th>lagged unmet GB·h</th><th>paging share</th><th>pressure share</th><th>mean assigned MB</th><th>mean demand MB</th>" +
                    "<th>hot-add MB</th><th>balloon MB</th><th>unballoon MB</th><th>VM-ticks/s</th><th>resized VMs/tick</th><th>calls/tick</th><th>writes/tick</th><th>density VMs/host</th></tr>");
        foreach (var p in j.Policies)
            html.Append($"<tr><td>{p.Name}</td><td>{p.UnmetDemandGbH:F1}</td><td>{p.LaggedUnmetDemandGbH:F1}</td><td>{p.PagingShare:P2}</td><td>{p.PressureShare:P2}</td><td>{p.MeanAssignedMb:F0}</td><td>{p.MeanDemandMb:F0}</td>" +
                        $"<td>{p.HotAddMb}</td><td>{p.BalloonMb}</td><td>{p.UnballoonMb}</td><td>{p.VmTicksPerSecond:F0}</td><td>{p.ResizedVmsPerTick:F1}</td><td>{p.GrainCallsPerTick:F1}</td>" +
                        $"<td>{p.StorageWritesPerTick:F1}</td><td>{p.DensityVmsPerHost?.ToString() ?? "–"}</td></tr>");
        html.Append("</table>");
        var names = new[] { "demand" }.Concat(r.Policies.Select(p => p.Name)).ToArray();
        html.Append("<h2>Fleet: demand and assigned memory (MB)</h2>");
        html.Append(Chart(names, [r.FleetDemandMb.Select(v => (double)v).ToArray(), .. r.Policies.Select(p => p.FleetAssignedMb.Select(v => (double)v).ToArray())]));
        for (int s = 0; s < r.SampleVms.Count; s++)
        {
            html.Append($"<h2>VM {WebUtility.HtmlEncode(r.SampleVms[s].VmId)} (Maximum {r.SampleVms[s].Config.MaximumMb} MB)</h2>");
            html.Append(Chart(names, [r.SampleDemandMb.Select(v => (double)v[s]).ToArray(), .. r.Policies.Select(p => p.SampleAssignedMb.Select(v => (double)v[s]).ToArray())]));
        }
        return html.Append("</body></html>").ToString();
    }

    /// <summary>An inline SVG line chart, downsampled to at most 600 points a line.</summary>
    private static string Chart(string[] names, double[][] lines)
    {
        const int width = 1000, height = 260, pad = 50;
        double max = Math.Max(1, lines.Max(l => l.DefaultIfEmpty(0).Max()));
        int n = lines[0].Length, step = Math.Max(1, n / 600);
        var svg = new StringBuilder($"<svg width=\"{width + pad}\" height=\"{height + 30}\" xmlns=\"http://www.w3.org/2000/svg\">");
        svg.Append($"<text x=\"0\" y=\"12\" font-size=\"11\">{max:F0}</text><text x=\"0\" y=\"{height}\" font-size=\"11\">0</text>");
        svg.Append($"<line x1=\"{pad}\" y1=\"{height}\" x2=\"{width + pad}\" y2=\"{height}\" stroke=\"#ccc\"/>");
        for (int l = 0; l < lines.Length; l++)
        {
            var points = Enumerable.Range(0, (n + step - 1) / step).Select(i => i * step)
                .Select(i => $"{F(pad + (double)i / Math.Max(1, n - 1) * width)},{F(height - lines[l][i] / max * (height - 10))}");
            svg.Append($"<polyline fill=\"none\" stroke=\"{Colors[l % Colors.Length]}\" stroke-width=\"{(l == 0 ? 2 : 1.2)}\" points=\"{string.Join(' ', points)}\"/>");
        }
        svg.Append("</svg><div class=\"legend\">");
        for (int l = 0; l < names.Length; l++) svg.Append($"<span style=\"color:{Colors[l % Colors.Length]}\">■ {WebUtility.HtmlEncode(names[l])}</span>");
        return svg.Append("</div>").ToString();
    }
}
