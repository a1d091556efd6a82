using System.Runtime.InteropServices;
using System.Text;

namespace Isola.Images.Tests;

/// <summary>Reads what .NET cannot: an extended attribute, and a device node's numbers (stat through the shell's
/// coreutils, which the machine has).</summary>
internal static partial class Xattr
{
    public static string? Get(string path, string name)
    {
        var buffer = new byte[256];
        var n = Lgetxattr(path, name, buffer, (nuint)buffer.Length);
        return n < 0 ? null : Encoding.UTF8.GetString(buffer, 0, (int)n);
    }

    public static string Describe(string path)
    {
        var parts = Tools.Run("stat", "-c", "%F %t/%T", path).Trim();
        return parts.Replace("character special file", "character device", StringComparison.Ordinal);
    }

    [LibraryImport("libc", EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint Lgetxattr(string path, string name, byte[] value, nuint size);
}
