using System.Collections;
using System.Runtime.InteropServices;

namespace Isola.Plugins.StratoVirt.Native;

/// <summary>
/// Starts a process whose stdin is /dev/null and whose stdout and stderr go to a file. System.Diagnostics.Process
/// (.NET 10) can only inherit our stdio or give the child pipes, and a VMM that daemonizes hands those pipes to the
/// daemon, which keeps them for the VM's life (QEMU keeps stderr under -D): waiting for their end never returns, and
/// closing them makes the daemon's later writes fail. Descriptors without FD_CLOEXEC (the vhost-vsock one) are
/// inherited, as with Process. Hand-written: .NET 11's ProcessStartInfo.StandardOutputHandle is not available here.
/// </summary>
internal static unsafe partial class PosixSpawn
{
    private const int O_RDONLY = 0;
    private const int O_WRONLY = 1;
    private const int O_CREAT = 0x40;
    private const int O_APPEND = 0x400;
    private const int WNOHANG = 1;
    private const int ECHILD = 10;
    private const uint OwnerReadWrite = 0x180; // 0600: the log may hold paths and guest output.

    // glibc's posix_spawn_file_actions_t is 80 bytes on 64-bit targets; room to spare.
    private const int FileActionsSize = 256;

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_init")]
    private static partial int FileActionsInit(byte* actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FileActionsAddOpen(byte* actions, int fd, string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_adddup2")]
    private static partial int FileActionsAddDup2(byte* actions, int fd, int newFd);

    [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_destroy")]
    private static partial int FileActionsDestroy(byte* actions);

    [LibraryImport("libc", EntryPoint = "posix_spawn")]
    private static partial int Spawn(out int pid, byte* path, byte* actions, void* attributes, byte** argv, byte** envp);

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static partial int WaitPid(int pid, out int status, int options);

    /// <summary>Starts <paramref name="argv"/>[0] (an absolute path) with our environment, stdin from /dev/null and
    /// stdout and stderr appended to <paramref name="outputFile"/> (created 0600). Returns the pid; the caller reaps
    /// it with <see cref="TryReap"/>. Throws Internal naming the binary when the spawn fails.</summary>
    public static int Start(IReadOnlyList<string> argv, string outputFile)
    {
        var strings = new List<nint>();
        var actions = stackalloc byte[FileActionsSize];
        FileActionsInit(actions);
        try
        {
            Check(argv[0], FileActionsAddOpen(actions, 0, "/dev/null", O_RDONLY, 0));
            Check(argv[0], FileActionsAddOpen(actions, 1, outputFile, O_WRONLY | O_CREAT | O_APPEND, OwnerReadWrite));
            Check(argv[0], FileActionsAddDup2(actions, 1, 2));
            var env = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>().Select(e => $"{e.Key}={e.Value}").ToList();
            var argvPtr = NullTerminated(argv, strings);
            var envPtr = NullTerminated(env, strings);
            var rc = Spawn(out var pid, (byte*)argvPtr[0], actions, null, argvPtr, envPtr);
            if (rc != 0)
            {
                throw IsolaException.Internal($"cannot start '{argv[0]}': {Marshal.GetPInvokeErrorMessage(rc)}");
            }

            return pid;
        }
        finally
        {
            FileActionsDestroy(actions);
            foreach (var p in strings)
            {
                Marshal.FreeCoTaskMem(p);
            }
        }
    }

    /// <summary>Reaps the child if it has exited: its exit code (128 + signal when killed), null while it runs, and
    /// -1 when it was already reaped elsewhere (its status is lost).</summary>
    public static int? TryReap(int pid)
    {
        var r = WaitPid(pid, out var status, WNOHANG);
        if (r == 0)
        {
            return null;
        }

        if (r < 0)
        {
            return Marshal.GetLastPInvokeError() == ECHILD ? -1 : null;
        }

        var signal = status & 0x7f;
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal;
    }

    private static void Check(string binary, int rc)
    {
        if (rc != 0)
        {
            throw IsolaException.Internal($"cannot prepare to start '{binary}': {Marshal.GetPInvokeErrorMessage(rc)}");
        }
    }

    /// <summary>A NULL-terminated char* array; every allocation is recorded in <paramref name="allocated"/>.</summary>
    private static byte** NullTerminated(IReadOnlyList<string> items, List<nint> allocated)
    {
        var array = (byte**)Marshal.AllocCoTaskMem((items.Count + 1) * sizeof(nint));
        allocated.Add((nint)array);
        for (var i = 0; i < items.Count; i++)
        {
            var s = Marshal.StringToCoTaskMemUTF8(items[i]);
            allocated.Add(s);
            array[i] = (byte*)s;
        }

        array[items.Count] = null;
        return array;
    }
}
