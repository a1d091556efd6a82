using System.Runtime.InteropServices;

namespace Isola.Ttrpc.Native;

/// <summary>The few libc calls .NET has no managed API for: AF_VSOCK sockets (the socket layer rejects unknown
/// address families, dotnet/runtime#58327), so they are created and connected here.</summary>
internal static unsafe partial class LibC
{
    public const int AF_VSOCK = 40;
    public const int SOCK_STREAM = 1;
    public const int SOCK_CLOEXEC = 0x80000;

    [StructLayout(LayoutKind.Sequential)]
    public struct SockaddrVm
    {
        public ushort Family;
        public ushort Reserved1;
        public uint Port;
        public uint Cid;
        public uint Zero;
    }

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int connect(int fd, SockaddrVm* address, uint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    /// <summary>The text of an errno value.</summary>
    public static string ErrorText(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
