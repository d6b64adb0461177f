using System.IO.Compression;
using System.Text;
using CsCheck;
using HvOrleans.Silo.Hosting;
using HvOrleans.Simulator;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace HvOrleans.Tests.Fuzz;

/// <summary>
/// Bounded fuzzing of what operators hand HvOrleans as files and settings: every input is read, or
/// refused with the rule it broke; nothing crashes, nothing hangs. HV_FUZZ_ITER sets the number of
/// inputs (CI: 500 each; a longer run is in docs/RELIABILITY.md).
/// </summary>
public sealed class InputFuzzTests
{
    private static readonly int Iterations = int.TryParse(Environment.GetEnvironmentVariable("HV_FUZZ_ITER"), out int n) ? n : 500;

    private const string Valid = "Timestamp [s];\tMemory capacity provisioned [KB];\tMemory usage [KB]\n" +
        "1372629804;\t8218624.0;\t1034592.8\n1372630104;\t8218624.0;\t0.0\n1372630404;\t8218624.0;\t458575.4666666667\n";

    /// <summary>A valid trace file with bytes flipped, inserted, deleted, or cut short; plain or gzip-compressed.</summary>
    private static readonly Gen<(byte[] Bytes, bool Gzip)> GenTraceFile =
        from edits in Gen.Select(Gen.Int[0, 3], Gen.Int[0, Valid.Length], Gen.Byte).Array[0, 8]
        from cut in Gen.Int[0, Valid.Length + 1]
        from gzip in Gen.Bool
        select (Mutate(Encoding.UTF8.GetBytes(Valid), edits, cut), gzip);

    private static byte[] Mutate(byte[] bytes, (int Kind, int At, byte Value)[] edits, int cut)
    {
        var list = bytes.ToList();
        foreach (var (kind, at, value) in edits)
        {
            int i = Math.Min(at, list.Count);
            switch (kind)
            {
                case 0 when i < list.Count: list[i] = value; break;
                case 1: list.Insert(i, value); break;
                case 2 when i < list.Count: list.RemoveAt(i); break;
                default: if (i < list.Count) list[i] = (byte)"0123456789;\t.-e\n "[value % 17]; break;
            }
        }
        return [.. list.Take(Math.Min(cut, list.Count) == 0 ? list.Count : Math.Min(cut, list.Count))];
    }

    [Fact]
    public void Every_trace_file_is_read_or_refused_naming_the_file()
    {
        GenTraceFile.Sample(file =>
        {
            string dir = Directory.CreateTempSubdirectory("fuzz-trace-").FullName;
            try
            {
                string path = Path.Combine(dir, file.Gzip ? "1.csv.gz" : "1.csv");
                if (file.Gzip)
                {
                    using var stream = File.Create(path);
                    using var zip = new GZipStream(stream, CompressionLevel.Fastest);
                    zip.Write(file.Bytes);
                }
                else File.WriteAllBytes(path, file.Bytes);
                try
                {
                    var trace = DemandTrace.LoadBitbrains(dir);
                    Assert.True(trace.Ticks > 0 && trace.VmCount == 1);
                    Assert.All(Enumerable.Range(0, Math.Min(trace.Ticks, 1000)), t => Assert.True(trace.DemandMb(0, t) >= 0));
                }
                catch (HvRuleException e)
                {
                    Assert.Equal("trace-file", e.Rule);
                    Assert.StartsWith(path + ":", e.Message);
                }
            }
            finally { Directory.Delete(dir, recursive: true); }
        }, iter: Iterations);
    }

    private static readonly string[] Keys =
    [
        "Storage", "ConnectionString", "ClusterId", "ServiceId", "SiloPort", "GatewayPort", "AdvertisedIp", "Kubernetes",
        "AuditDirectory", "ProbeTimeout", "NumMissedProbesLimit", "TableRefreshTimeout", "Tls:CaPath", "Balancer:BalancingPeriod",
        "Balancer:ReminderPeriod", "Backup:DiskSizeMb", "Backup:FreezeTimeout", "Backup:CopyParallelism", "Backup:MaxStepAttempts",
        "Backup:ResumePeriod", "Backup:StepDelay", "Balancer:BalancingPerod", "Nonsense", "SiloPort:Nested",
    ];

    private static readonly string[] Values =
    [
        "", "0", "1", "-1", "65535", "65536", "2147483648", "99999999999999999999", "00:00:01", "-00:00:01", "1.00:00:00",
        "10675199.02:48:05.4775807", "true", "maybe", "Memory", "Azure", "azure", "NaN", "1e9", "x\ny", "🙂", new string('9', 400),
        "UseDevelopmentStorage=true", "../../etc/passwd",
    ];

    [Fact]
    public void Every_silo_configuration_is_bound_or_refused_with_the_key_it_broke()
    {
        var gen = Gen.Select(Gen.Int[0, Keys.Length - 1], Gen.Int[0, Values.Length - 1]).Array[0, 6];
        gen.Sample(pairs =>
        {
            var settings = pairs.GroupBy(p => Keys[p.Item1]).ToDictionary(g => $"Hv:{g.Key}", g => (string?)Values[g.Last().Item2]);
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
            try
            {
                var hv = HvSiloOptions.Bind(configuration);
                Assert.InRange(hv.SiloPort, 1, 65535);
                Assert.InRange(hv.Backup.CopyParallelism, 1, 64);
                Assert.True(hv.Storage == HvOrleans.Connection.HvStorage.Memory || hv.ConnectionString.Length > 0);
            }
            catch (OptionsValidationException e)
            {
                Assert.NotEmpty(e.Failures);
                Assert.All(e.Failures, f => Assert.StartsWith("Hv", f));
            }
        }, iter: Iterations);
    }
}
