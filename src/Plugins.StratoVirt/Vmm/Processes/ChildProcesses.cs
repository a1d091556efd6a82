using System.Collections.Concurrent;
using System.Diagnostics;

namespace Isola.Plugins.StratoVirt.Vmm.Processes;

/// <summary>
/// Keeps <see cref="Process"/> objects of our own children (the virtiofs daemons) alive until they exit. .NET reaps
/// only children it still tracks, so disposing the object early (when a VM handle is dropped while the VM runs on)
/// would leave a zombie; this holds it and disposes it from its Exited event instead.
/// </summary>
internal static class ChildProcesses
{
    private static readonly ConcurrentDictionary<int, Process> Running = new();

    public static void Track(Process process)
    {
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) =>
        {
            if (Running.TryRemove(process.Id, out var p))
            {
                p.Dispose();
            }
        };
        Running[process.Id] = process;
        if (process.HasExited && Running.TryRemove(process.Id, out var exited))
        {
            exited.Dispose();
        }
    }
}
