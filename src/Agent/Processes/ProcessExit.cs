namespace Isola.Agent.Processes;

/// <summary>How a process ended: <paramref name="Status"/> is its exit code, or 128+N when signal N killed it (what a
/// shell reports and what containerd's shims put in exit_status).</summary>
internal readonly record struct ProcessExit(uint Status, DateTimeOffset ExitedAt)
{
    /// <summary>Decodes a wait(2) status word.</summary>
    public static ProcessExit FromWaitStatus(int waitStatus, DateTimeOffset at)
    {
        var signal = waitStatus & 0x7f;
        return signal == 0
            ? new ProcessExit((uint)((waitStatus >> 8) & 0xff), at)
            : new ProcessExit((uint)(128 + signal), at);
    }
}
