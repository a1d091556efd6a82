using System.Security.Cryptography;
using System.Text;

namespace Isola.Hosting.Scripting;

/// <summary>SHA-256 helpers for the script cache. Source files are hashed as decoded text (what the compiler saw),
/// assemblies and images as bytes.</summary>
internal static class ScriptHashing
{
    public static string OfText(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    public static string OfBytes(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static string OfFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Hash of a source file as the compiler decodes it (BOM-aware, UTF-8 by default).</summary>
    public static string OfSourceFile(string path) => OfText(File.ReadAllText(path));
}
