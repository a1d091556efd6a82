using System.Runtime.InteropServices;

namespace Isola.Hosting.Faults;

/// <summary>
/// Named points in the host's work where a crash is most likely to leave something half-done: after each record
/// write, before and after each controller and task call, and in recovery itself. A test sets
/// <c>ISOLA_CRASH_AT=NAME</c> (or <c>NAME#N</c> for the N-th time the point is reached) on an <c>isola</c> process, and
/// the process SIGKILLs itself there, deterministically, as an OOM kill or a power cut would end it. Unset, as in any
/// real use, a point costs one null check.
/// </summary>
/// <remarks>Names: <c>record:STATE</c> (a sandbox record was written in that state), <c>record-temp:STATE</c> (its
/// temp file is written, not yet renamed), <c>container:STATE</c> (a container's record was written in that state),
/// <c>controller:OP:before|after</c>, <c>task:OP:before|after</c>, <c>recovery:STATE</c> (recovery is about to finish a
/// sandbox found in that state). docs/host.md lists them.</remarks>
internal static partial class CrashPoints
{
    /// <summary>The environment variable that arms one point.</summary>
    public const string Variable = "ISOLA_CRASH_AT";

    private static readonly (string Name, int Hit)? Armed = Parse(Environment.GetEnvironmentVariable(Variable));
    private static int _hits;

    /// <summary>True when a point is armed in this process.</summary>
    public static bool IsArmed => Armed is not null;

    /// <summary>Kills the process at once when <paramref name="name"/> is the armed point (on its armed hit).</summary>
    public static void Reach(string name)
    {
        if (Armed is not { } armed || !string.Equals(armed.Name, name, StringComparison.Ordinal))
        {
            return;
        }

        if (Interlocked.Increment(ref _hits) == armed.Hit)
        {
            Console.Error.WriteLine($"isola: crash point '{name}' reached; SIGKILL");
            Console.Error.Flush();
            _ = Kill(Environment.ProcessId, 9);
            Thread.Sleep(Timeout.Infinite); // SIGKILL is delivered before kill(2) returns to a single-threaded caller; not always to us
        }
    }

    /// <summary>Reaches <c>PREFIX:OP:before</c>, runs the call, then reaches <c>PREFIX:OP:after</c>.</summary>
    public static async Task<T> AroundAsync<T>(string prefix, string operation, Func<Task<T>> call)
    {
        if (Armed is null)
        {
            return await call().ConfigureAwait(false);
        }

        Reach($"{prefix}:{operation}:before");
        var result = await call().ConfigureAwait(false);
        Reach($"{prefix}:{operation}:after");
        return result;
    }

    internal static (string Name, int Hit)? Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        var hash = value.LastIndexOf('#');
        return hash > 0 && int.TryParse(value.AsSpan(hash + 1), out var hit) && hit > 0
            ? (value[..hash], hit)
            : (value, 1);
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
