using Isola.Agent.Native;
using Microsoft.Win32.SafeHandles;

namespace Isola.Agent.Processes;

/// <summary>A pipe whose write end goes to a child and whose read end the agent drains. Both ends are close-on-exec, so
/// only the child it is handed to (as fd 1 or 2, which posix_spawn dup2s without the flag) inherits it.</summary>
internal sealed class Pipe : IDisposable
{
    private int _writeFd;

    public unsafe Pipe()
    {
        var fds = stackalloc int[2];
        if (LibC.pipe2(fds, LibC.O_CLOEXEC) != 0)
        {
            throw IsolaException.Internal($"pipe2 failed: {LibC.LastError()}");
        }

        Reader = new SafeFileHandle(fds[0], ownsHandle: true);
        _writeFd = fds[1];
    }

    public SafeFileHandle Reader { get; }

    public int WriteFd => _writeFd;

    /// <summary>Closes the agent's copy of the write end, so the reader sees EOF when the child is done.</summary>
    public void CloseWriteEnd()
    {
        if (_writeFd >= 0)
        {
            LibC.close(_writeFd);
            _writeFd = -1;
        }
    }

    /// <summary>Everything the child writes, until it closes its end.</summary>
    public async Task<string> ReadToEndAsync()
    {
        await using var stream = new FileStream(Reader, FileAccess.Read, bufferSize: 0);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync().ConfigureAwait(false);
    }

    public void Dispose()
    {
        CloseWriteEnd();
        Reader.Dispose();
    }
}
