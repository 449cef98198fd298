using System.Runtime.InteropServices;

namespace Tether.Upstream.LoadBalancing;

/// <summary>
/// A 64-bit hash that is the same in every process and run (string.GetHashCode is not), so a consistent-hash
/// ring places keys identically after a restart and on every Tether instance: FNV-1a, then the splitmix64
/// finalizer to spread FNV's weak low bits.
/// </summary>
public static class StableHash
{
    private const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

    public static ulong Of(ReadOnlySpan<byte> bytes)
    {
        var h = FnvOffset;
        foreach (var b in bytes)
        {
            h = (h ^ b) * FnvPrime;
        }

        return Mix(h);
    }

    public static ulong Of(ReadOnlySpan<char> text) => Of(MemoryMarshal.AsBytes(text));

    public static ulong Mix(ulong x)
    {
        x ^= x >> 30;
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 27;
        x *= 0x94D049BB133111EBUL;
        x ^= x >> 31;
        return x;
    }
}
