using System.IO.Hashing;
using System.Text;

namespace Isola.Scripting;

/// <summary>
/// Content hashes for the script cache, as lower-case hex: XXH3-128 (System.IO.Hashing's XxHash128) of source texts
/// (as decoded: what the compiler saw), compiled images and the assemblies a script <c>#r</c>s.
/// </summary>
/// <remarks>
/// Why not SHA-256: a cached run hashes a few kilobytes, and SHA-256 goes through OpenSSL, whose start-up costs every
/// process about 5 ms of CPU, a tenth of a cached run and more on a busy machine. The cache needs no resistance to
/// deliberate collisions: it lives in the user's private cache directory, and whoever can write there can run code
/// as the user anyway (scripts are trusted code); 128 bits make accidental collisions negligible.
/// </remarks>
internal static class ScriptHashing
{
    public static string OfText(string text) => OfBytes(Encoding.UTF8.GetBytes(text));

    /// <summary>XXH3-128 of <paramref name="bytes"/>.</summary>
    public static string OfBytes(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(XxHash128.Hash(bytes));

    /// <summary>XXH3-128 of a file's bytes (a referenced assembly).</summary>
    public static string OfFile(string path)
    {
        using var stream = File.OpenRead(path);
        var hash = new XxHash128();
        hash.Append(stream);
        return Convert.ToHexStringLower(hash.GetCurrentHash());
    }

    /// <summary>Hash of a source file as the compiler decodes it (BOM-aware, UTF-8 by default).</summary>
    public static string OfSourceFile(string path) => OfText(File.ReadAllText(path));
}
