using System.Globalization;

namespace HvOrleans.Client.Simulation;

/// <summary>Memory demand of a set of VMs over time, one sample per tick. Sizes in MB.</summary>
public sealed class DemandTrace(string name, int tickSeconds, int[][] demandMb, int[] provisionedMb)
{
    public string Name { get; } = name;
    public int TickSeconds { get; } = tickSeconds;
    public int VmCount => demandMb.Length;
    public int Ticks => demandMb.Length == 0 ? 0 : demandMb.Min(d => d.Length);
    public int ProvisionedMb(int vm) => provisionedMb[vm];
    public int DemandMb(int vm, int tick) => demandMb[vm][tick % demandMb[vm].Length];

    /// <summary>The VMs in [from, to): to design a policy on one part of a trace and judge it on the other.</summary>
    public DemandTrace Slice(int fromVm, int toVm) =>
        new($"{Name}[{fromVm}..{toVm})", TickSeconds, demandMb[fromVm..toVm], provisionedMb[fromVm..toVm]);

    /// <summary>
    /// Reads a folder of Bitbrains GWA-T-12 CSVs (fields separated by ';' and a TAB, timestamps in
    /// Unix seconds despite the header, memory in KB in columns 6 and 7). Samples are put on a grid of
    /// <paramref name="tickSeconds"/> from the earliest timestamp. A missing or zero usage sample (the
    /// trace has ~10 % of them) repeats the VM's previous figure; a VM's provisioned size is the
    /// largest it was given.
    /// </summary>
    public static DemandTrace LoadBitbrains(string folder, int tickSeconds = 300)
    {
        var files = Directory.GetFiles(folder, "*.csv")
            .OrderBy(f => int.TryParse(Path.GetFileNameWithoutExtension(f), out var n) ? n : int.MaxValue)
            .ThenBy(f => f, StringComparer.Ordinal).ToArray();
        if (files.Length == 0) throw new HvRuleException("trace-folder", $"No *.csv trace files in {folder}.");
        var series = files.Select(ReadSamples).Where(s => s.Count > 0).ToArray();
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

    private static int ToMb(double kb) => (int)Math.Ceiling(kb / 1024);

    private readonly record struct Sample(long Time, double ProvisionedKb, double UsedKb);

    private static List<Sample> ReadSamples(string file)
    {
        var samples = new List<Sample>();
        foreach (var line in File.ReadLines(file).Skip(1))
        {
            var f = line.Split(';');
            if (f.Length < 7) continue;
            if (!long.TryParse(f[0].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long time)) continue;
            double.TryParse(f[5].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double provisionedKb);
            double.TryParse(f[6].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double usedKb);
            samples.Add(new(time, provisionedKb, usedKb));
        }
        samples.Sort((a, b) => a.Time.CompareTo(b.Time));
        return samples;
    }

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
