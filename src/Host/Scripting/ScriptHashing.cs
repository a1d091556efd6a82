using System.Security.Cryptography;
using System.Text;

namespace Isola.Hosting.Scripting;

/// <summary>
/// Content hashes for the script cache, as lower-case hex. Source texts (hashed as decoded text: what the compiler saw)
/// and compiled images use FNV-1a with a 128-bit state; assemblies a script <c>#r</c>s, which can be megabytes, use
/// SHA-256.
/// </summary>
/// <remarks>
/// Why FNV-1a, hand-written: a cached run hashes a few kilobytes, and SHA-256 goes through OpenSSL, whose start-up
/// costs every process about 5 ms of CPU, a tenth of a cached run and more on a busy machine. The cache needs no
/// resistance to deliberate collisions: it lives in a private directory, and whoever can write there can run code as
/// the user anyway; 128 bits make accidental collisions negligible. System.IO.Hashing (XxHash128) would give the same
/// from a library, but Isola.Host does not reference it.
/// </remarks>
internal static class ScriptHashing
{
    // FNV-1a 128-bit parameters: offset basis and prime 2^88 + 2^8 + 0x3b.
    private const ulong OffsetHigh = 0x6c62272e07bb0142, OffsetLow = 0x62b821756295c58d;
    private const ulong PrimeLow = 0x13b;
    private const int PrimeShift = 88 - 64;

    public static string OfText(string text) => OfBytes(Encoding.UTF8.GetBytes(text));

    /// <summary>FNV-1a (128-bit) of <paramref name="bytes"/>.</summary>
    public static string OfBytes(ReadOnlySpan<byte> bytes)
    {
        ulong high = OffsetHigh, low = OffsetLow;
        foreach (var b in bytes)
        {
            low ^= b;
            // (high:low) * (2^88 + PrimeLow) mod 2^128; 2^88 shifts low's bits into high.
            var carry = Math.BigMul(low, PrimeLow, out var product);
            high = unchecked((high * PrimeLow) + carry + (low << PrimeShift));
            low = product;
        }

        return high.ToString("x16", System.Globalization.CultureInfo.InvariantCulture) + low.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>SHA-256 of a file (a referenced assembly).</summary>
    public static string OfFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Hash of a source file as the compiler decodes it (BOM-aware, UTF-8 by default).</summary>
    public static string OfSourceFile(string path) => OfText(File.ReadAllText(path));
}
