using System.Globalization;
using System.IO.Compression;
using System.Numerics;

namespace HvOrleans.Simulator;

/// <summary>Memory demand of a set of VMs over time, one sample per tick. Sizes in MB.</summary>
public sealed class DemandTrace(string name, int tickSeconds, int[][] demandMb, int[] provisionedMb)
{
    public string Name { get; } = name;
    public int TickSeconds { get; } = tickSeconds;
    public int VmCount => _demandMb.Length;
    public int Ticks => _demandMb.Length == 0 ? 0 : _demandMb.Min(d => d.Length);
    public int ProvisionedMb(int vm) => _provisionedMb[vm];
    public int DemandMb(int vm, int tick) => _demandMb[vm][tick % _demandMb[vm].Length];

    /// <summary>
    /// Several traces' VMs side by side (two months of the trace, say), in the order given; as long as
    /// the shortest. Their tick lengths must agree.
    /// </summary>
    public static DemandTrace Combine(IReadOnlyList<DemandTrace> traces)
    {
        if (traces.Count == 1) return traces[0];
        Rule.Require(traces.Count > 1 && traces.All(t => t.TickSeconds == traces[0].TickSeconds), "trace-ticks-agree",
            $"Traces combined must share their tick length; got {string.Join(", ", traces.Select(t => $"{t.Name}: {t.TickSeconds} s"))}.");
        return new(string.Join('+', traces.Select(t => t.Name)), traces[0].TickSeconds,
            [.. traces.SelectMany(t => t._demandMb)], [.. traces.SelectMany(t => t._provisionedMb)]);
    }

    private readonly int[][] _demandMb = demandMb;
    private readonly int[] _provisionedMb = provisionedMb;

    /// <summary>The VMs in [from, to): to design a policy on one part of a trace and judge it on the other.</summary>
    public DemandTrace Slice(int fromVm, int toVm) =>
        new($"{Name}[{fromVm}..{toVm})", TickSeconds, _demandMb[fromVm..toVm], _provisionedMb[fromVm..toVm]);

    /// <summary>The VMs at <paramref name="vms"/>, in that order: one fold of a k-fold over VM groups.</summary>
    public DemandTrace Subset(IReadOnlyList<int> vms, string part) =>
        new($"{Name}[{part}]", TickSeconds, [.. vms.Select(v => _demandMb[v])], [.. vms.Select(v => _provisionedMb[v])]);

    /// <summary>
    /// Reads a folder of Bitbrains GWA-T-12 CSVs, plain (<c>N.csv</c>) or gzip-compressed
    /// (<c>N.csv.gz</c>): fields separated by ';' and a TAB, timestamps in Unix seconds in the first
    /// column (despite the original header's "[ms]"), memory in KB in the columns headed "Memory
    /// capacity provisioned" and "Memory usage" (columns 6 and 7 of the original, 2 and 3 of the
    /// repository's memory-only copy). Samples are put on a grid of <paramref name="tickSeconds"/> from
    /// the earliest timestamp. A missing or zero usage sample (the trace has ~10 % of them) repeats the
    /// VM's previous figure; a VM's provisioned size is the largest it was given. A file that breaks
    /// the format is refused, naming the file and line.
    /// </summary>
    public static DemandTrace LoadBitbrains(string folder, int tickSeconds = 300)
    {
        var files = Directory.GetFiles(folder).Where(f => f.EndsWith(".csv", StringComparison.Ordinal) || f.EndsWith(".csv.gz", StringComparison.Ordinal))
            .OrderBy(f => int.TryParse(SeriesName(f), out var n) ? n : int.MaxValue)
            .ThenBy(f => f, StringComparer.Ordinal).ToArray();
        Rule.Require(files.Length > 0, "trace-folder", $"No *.csv or *.csv.gz trace files in {folder}.");
        var series = files.Select(ReadSamples).ToArray();
        long start = series.Min(s => s[0].Time);
        int ticks = (int)((series.Max(s => s[^1].Time) - start) / tickSeconds) + 1;
        var demands = new int[series.Length][];
        var provisioned = new int[series.Length];
        for (int vm = 0; vm < series.Length; vm++)
        {
            var grid = new int[ticks];
            var samples = series[vm];
            int next = 0, lastMb = samples.FirstOrDefault(s => s.UsedKb > 0).UsedKb is var kb and > 0 ? ToMb(kb) : 0;
            for (int t = 0; t < ticks; t++)
            {
                long tickEnd = start + (long)(t + 1) * tickSeconds;
                for (; next < samples.Count && samples[next].Time < tickEnd; next++)
                    if (samples[next].UsedKb > 0) lastMb = ToMb(samples[next].UsedKb);
                grid[t] = lastMb;
            }
            demands[vm] = grid;
            provisioned[vm] = Math.Max(ToMb(samples.Max(s => s.ProvisionedKb)), grid.Max());
        }
        return new DemandTrace($"bitbrains:{Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))}", tickSeconds, demands, provisioned);
    }

    private static string SeriesName(string file) => Path.GetFileName(file).Split('.')[0];

    private static int ToMb(double kb) => (int)Math.Ceiling(kb / 1024);

    private readonly record struct Sample(long Time, double ProvisionedKb, double UsedKb);

    private static List<Sample> ReadSamples(string file)
    {
        using var stream = File.OpenRead(file);
        using var reader = new StreamReader(file.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(stream, CompressionMode.Decompress) : stream);
        string? header;
        try { header = reader.ReadLine(); }
        catch (InvalidDataException e) { throw Bad(file, 1, $"not a gzip file ({e.Message})"); }
        if (header is null) throw Bad(file, 1, "the file is empty; a trace file starts with a header line");
        var names = header.Split(';').Select(n => n.Trim()).ToList();
        int provisionedColumn = names.FindIndex(n => n.StartsWith("Memory capacity provisioned", StringComparison.OrdinalIgnoreCase));
        int usedColumn = names.FindIndex(n => n.StartsWith("Memory usage", StringComparison.OrdinalIgnoreCase));
        if (provisionedColumn < 1 || usedColumn < 1)
            throw Bad(file, 1, "the header names no 'Memory capacity provisioned' and 'Memory usage' columns");
        var samples = new List<Sample>();
        int lineNumber = 1;
        try
        {
            for (string? line; (line = reader.ReadLine()) is not null;)
            {
                lineNumber++;
                if (line.Length == 0) continue;
                var f = line.Split(';');
                if (f.Length < names.Count) throw Bad(file, lineNumber, $"{f.Length} fields where the header has {names.Count}");
                samples.Add(new(Number<long>(f[0], file, lineNumber), Number<double>(f[provisionedColumn], file, lineNumber), Number<double>(f[usedColumn], file, lineNumber)));
            }
        }
        catch (InvalidDataException e)
        {
            throw Bad(file, lineNumber, $"the gzip stream is damaged ({e.Message})");
        }
        if (samples.Count == 0) throw Bad(file, 2, "no samples after the header");
        samples.Sort((a, b) => a.Time.CompareTo(b.Time));
        return samples;
    }

    private static T Number<T>(string field, string file, int line) where T : INumber<T>
    {
        if (T.TryParse(field.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= T.Zero && !double.IsInfinity(double.CreateChecked(value)) && !double.IsNaN(double.CreateChecked(value)))
            return value;
        throw Bad(file, line, $"'{field.Trim()}' is not a non-negative number");
    }

    private static HvRuleException Bad(string file, int line, string why) => new("trace-file", $"{file}:{line}: {why}.");

    public static readonly string[] SyntheticKinds = ["steady", "diurnal", "bursty", "leak"];

    /// <summary>
    /// Seeded synthetic demand: <c>steady</c> (noise around a level), <c>diurnal</c> (a day's sine),
    /// <c>bursty</c> (a low level with short spikes), <c>leak</c> (slow growth, reset by a restart every few days).
    /// </summary>
    public static DemandTrace Synthetic(string kind, int vms, int ticks, int seed, int tickSeconds = 300)
    {
        Rule.Require(SyntheticKinds.Contains(kind), "synthetic-kind",
            $"Synthetic demand is one of {string.Join(", ", SyntheticKinds)}; got '{kind}'.");
        var random = new Random(seed);
        int[] sizes = [2048, 4096, 8192, 16384];
        var provisioned = Enumerable.Range(0, vms).Select(_ => sizes[random.Next(sizes.Length)]).ToArray();
        int ticksPerDay = Math.Max(1, 86_400 / tickSeconds);
        var demands = new int[vms][];
        for (int vm = 0; vm < vms; vm++)
        {
            double max = provisioned[vm], level = max * (0.15 + 0.35 * random.NextDouble()), phase = random.NextDouble() * 2 * Math.PI;
            var d = new int[ticks];
            double leak = level * 0.5;
            for (int t = 0; t < ticks; t++)
            {
                double noise = 1 + 0.05 * (random.NextDouble() * 2 - 1);
                double mb = kind switch
                {
                    "steady" => level * noise,
                    "diurnal" => level * (1 + 0.6 * Math.Sin(2 * Math.PI * t / ticksPerDay + phase)) * noise,
                    "bursty" => (random.NextDouble() < 0.03 ? max * (0.6 + 0.4 * random.NextDouble()) : level * 0.5) * noise,
                    _ => leak = (t % (3 * ticksPerDay) == 0 ? level * 0.5 : leak + level / ticksPerDay),
                };
                d[t] = (int)Math.Clamp(mb, 64, max);
            }
            demands[vm] = d;
        }
        return new DemandTrace($"synthetic:{kind}", tickSeconds, demands, provisioned);
    }
}
