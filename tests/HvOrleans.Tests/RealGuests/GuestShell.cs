using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using HvOrleans.Tests.Infrastructure;

namespace HvOrleans.Tests.RealGuests;

/// <summary>What the real-guest tests do through hv: wait for a guest to report, and run a command in it.</summary>
internal static class GuestShell
{
    /// <summary><c>hv vm show</c> once the VM's guest reports its statistics (booted, driver loaded).</summary>
    public static Task<JsonElement> RunningAsync(HvConsole hv, string vm) =>
        Eventually.WaitForAsync(() => hv.JsonAsync("vm", "show", vm),
            v => v.TryGetProperty("real", out var r) && r.ValueKind == JsonValueKind.Object && r.GetProperty("guestState").GetString() == "Running",
            $"{vm}'s guest reporting", seconds: 60);

    /// <summary>The output of <c>hv vm exec vm -- command…</c>, which must succeed.</summary>
    public static async Task<string> ExecAsync(HvConsole hv, string vm, params string[] command)
    {
        var (code, stdout, stderr) = await hv.RunAsync(["vm", "exec", vm, "--", .. command]);
        Assert.True(code == 0, $"hv vm exec {vm} -- {string.Join(' ', command)} exited {code}: {stderr}");
        return stdout;
    }

    /// <summary>SHA-256 of a qcow2 image's raw contents, read on the host beside the running guest (qemu-img -U).</summary>
    public static async Task<string> HostImageSha256Async(string qcow2)
    {
        string raw = Path.Combine(Path.GetTempPath(), $"hvt-{Guid.NewGuid():N}.raw");
        try
        {
            using var convert = Process.Start(new ProcessStartInfo("qemu-img", ["convert", "-U", "-O", "raw", qcow2, raw]) { RedirectStandardError = true })!;
            await convert.WaitForExitAsync();
            Assert.True(convert.ExitCode == 0, await convert.StandardError.ReadToEndAsync());
            await using var file = File.OpenRead(raw);
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(file));
        }
        finally
        {
            File.Delete(raw);
        }
    }
}
