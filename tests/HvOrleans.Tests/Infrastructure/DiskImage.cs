using System.Security.Cryptography;
using HvOrleans.Backup;

namespace HvOrleans.Tests.Infrastructure;

public static class DiskImage
{
    /// <summary>SHA-256 of a disk of zeros with these writes applied in order — computed here, independently of the service.</summary>
    public static string Sha256(long diskBytes, params DiskWrite[] writes)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var block = new byte[BackupSteps.BlockBytes];
        for (long start = 0; start < diskBytes; start += block.Length)
        {
            var range = block.AsSpan(0, (int)Math.Min(block.Length, diskBytes - start));
            range.Clear();
            foreach (var w in writes) w.ApplyTo(range, start);
            hash.AppendData(range);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
