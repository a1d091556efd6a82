using System.Runtime.InteropServices;
using System.Text;
using Isola.Agent.Native;

namespace Isola.Agent.Processes;

/// <summary>
/// Starts a program with posix_spawn: explicit argv and envp, no shell, the given descriptors as fds 0, 1 and 2, every
/// signal back to its default disposition and none blocked. The .NET runtime ignores SIGPIPE, and an ignored signal is
/// inherited across exec: without the reset a container's `yes | head` would never end.
/// </summary>
internal static unsafe class ProcessSpawner
{
    /// <summary>Starts <paramref name="path"/> and returns its pid. The caller owns reaping it.</summary>
    /// <exception cref="IsolaException">posix_spawn failed (the program is missing or not executable).</exception>
    public static int Spawn(string path, IReadOnlyList<string> argv, IReadOnlyList<string> environment, int stdin, int stdout, int stderr)
    {
        var strings = new List<nint>();
        var fileActions = NativeMemory.AllocZeroed(LibC.SpawnFileActionsSize);
        var attr = NativeMemory.AllocZeroed(LibC.SpawnAttrSize);
        var sigset = NativeMemory.AllocZeroed(128);
        var argvBlock = (byte**)NativeMemory.AllocZeroed((nuint)(argv.Count + 1), (nuint)sizeof(nint));
        var envBlock = (byte**)NativeMemory.AllocZeroed((nuint)(environment.Count + 1), (nuint)sizeof(nint));
        try
        {
            for (var i = 0; i < argv.Count; i++)
            {
                argvBlock[i] = Utf8(argv[i], strings);
            }

            for (var i = 0; i < environment.Count; i++)
            {
                envBlock[i] = Utf8(environment[i], strings);
            }

            Check(LibC.posix_spawn_file_actions_init(fileActions), "posix_spawn_file_actions_init");
            Check(LibC.posix_spawn_file_actions_adddup2(fileActions, stdin, 0), "adddup2 stdin");
            Check(LibC.posix_spawn_file_actions_adddup2(fileActions, stdout, 1), "adddup2 stdout");
            Check(LibC.posix_spawn_file_actions_adddup2(fileActions, stderr, 2), "adddup2 stderr");
            Check(LibC.posix_spawnattr_init(attr), "posix_spawnattr_init");
            LibC.sigemptyset(sigset);
            Check(LibC.posix_spawnattr_setsigmask(attr, sigset), "posix_spawnattr_setsigmask");
            LibC.sigfillset(sigset);
            Check(LibC.posix_spawnattr_setsigdefault(attr, sigset), "posix_spawnattr_setsigdefault");
            Check(LibC.posix_spawnattr_setflags(attr, LibC.POSIX_SPAWN_SETSIGMASK | LibC.POSIX_SPAWN_SETSIGDEF), "posix_spawnattr_setflags");

            var pathBytes = Utf8(path, strings);
            var error = LibC.posix_spawn(out var pid, pathBytes, fileActions, attr, argvBlock, envBlock);
            if (error != 0)
            {
                throw IsolaException.Internal($"cannot start {path}: {Marshal.GetPInvokeErrorMessage(error)}");
            }

            return pid;
        }
        finally
        {
            LibC.posix_spawn_file_actions_destroy(fileActions);
            LibC.posix_spawnattr_destroy(attr);
            NativeMemory.Free(fileActions);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigset);
            NativeMemory.Free(argvBlock);
            NativeMemory.Free(envBlock);
            foreach (var s in strings)
            {
                NativeMemory.Free((void*)s);
            }
        }
    }

    private static byte* Utf8(string value, List<nint> owned)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        var buffer = (byte*)NativeMemory.Alloc((nuint)count + 1);
        owned.Add((nint)buffer);
        Encoding.UTF8.GetBytes(value, new Span<byte>(buffer, count));
        buffer[count] = 0;
        return buffer;
    }

    private static void Check(int result, string what)
    {
        if (result != 0)
        {
            throw IsolaException.Internal($"{what} failed: {Marshal.GetPInvokeErrorMessage(result)}");
        }
    }
}
