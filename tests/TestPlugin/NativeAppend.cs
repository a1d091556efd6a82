using System.Runtime.InteropServices;

namespace Isola.TestPlugin;

/// <summary>Appends that are atomic across processes without relying on .NET's file locking.</summary>
internal static partial class NativeAppend
{
    public const int WriteOnlyAppendCreate = 0x1 | 0x40 | 0x400 | 0x80000; // O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte[] buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close")]
    public static partial int Close(int fd);
}
