using System.Runtime.InteropServices;
using Isola.Agent.Native;
using Microsoft.Extensions.Logging;

namespace Isola.Agent.Processes;

/// <summary>
/// The one place that reaps: a thread blocks in waitpid(-1) and hands each exit to whoever waits for that pid. As PID 1
/// (or a child subreaper) the agent also inherits container processes once `runc create` or `runc exec --detach` has
/// exited, and such a process may exit before the agent has read its pid file: exits nobody waits for yet are kept,
/// numbered, and matched when the pid is claimed. A claim only takes exits numbered after a mark taken before the
/// process was started, so a stale exit of a reused pid is never mistaken for the new process's.
/// </summary>
internal sealed class ChildReaper
{
    private static readonly TimeSpan s_keepUnclaimed = TimeSpan.FromMinutes(10);

    private readonly object _gate = new();
    private readonly Dictionary<int, TaskCompletionSource<ProcessExit>> _waiters = [];
    private readonly Dictionary<int, (long Sequence, ProcessExit Exit)> _unclaimed = [];
    private readonly AutoResetEvent _childStarted = new(false);
    private readonly ILogger _logger;
    private long _sequence;

    public ChildReaper(ILogger logger)
    {
        _logger = logger;
        var thread = new Thread(Loop) { IsBackground = true, Name = "reaper" };
        thread.Start();
    }

    /// <summary>A mark to pass to <see cref="Claim"/>: exits reaped from now on.</summary>
    public long Mark
    {
        get
        {
            lock (_gate)
            {
                return _sequence;
            }
        }
    }

    /// <summary>Runs <paramref name="start"/> (which starts a child and returns its pid) so that the child's exit cannot be
    /// reaped before it is waited for, and returns the pid and its exit.</summary>
    public (int Pid, Task<ProcessExit> Exit) Start(Func<int> start)
    {
        (int, Task<ProcessExit>) started;
        lock (_gate)
        {
            var pid = start();
            started = (pid, Register(pid));
        }

        _childStarted.Set();
        return started;
    }

    /// <summary>The exit of <paramref name="pid"/>, a process the agent inherits (a container's init or exec process)
    /// that started after <paramref name="mark"/>.</summary>
    public Task<ProcessExit> Claim(int pid, long mark)
    {
        lock (_gate)
        {
            if (_unclaimed.TryGetValue(pid, out var exit) && exit.Sequence > mark)
            {
                _unclaimed.Remove(pid);
                return Task.FromResult(exit.Exit);
            }

            return Register(pid);
        }
    }

    /// <summary>Stops waiting for <paramref name="pid"/> (the process was given up on); a later exit is kept unclaimed.</summary>
    public void Forget(int pid)
    {
        lock (_gate)
        {
            _waiters.Remove(pid);
        }
    }

    private Task<ProcessExit> Register(int pid)
    {
        if (!_waiters.TryGetValue(pid, out var waiter))
        {
            waiter = new TaskCompletionSource<ProcessExit>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters[pid] = waiter;
        }

        return waiter.Task;
    }

    private void Loop()
    {
        while (true)
        {
            var pid = LibC.waitpid(-1, out var status, 0);
            if (pid > 0)
            {
                Record(pid, ProcessExit.FromWaitStatus(status, DateTimeOffset.UtcNow));
                continue;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == LibC.EINTR)
            {
                continue;
            }

            // No children: sleep until one is started. The timeout covers a child started some way other than Start.
            _childStarted.WaitOne(TimeSpan.FromSeconds(1));
        }
    }

    private void Record(int pid, ProcessExit exit)
    {
        lock (_gate)
        {
            _sequence++;
            if (_waiters.Remove(pid, out var waiter))
            {
                waiter.TrySetResult(exit);
                return;
            }

            _unclaimed[pid] = (_sequence, exit);
            var now = DateTimeOffset.UtcNow;
            foreach (var (stalePid, _) in _unclaimed.Where(e => now - e.Value.Exit.ExitedAt > s_keepUnclaimed).ToList())
            {
                _unclaimed.Remove(stalePid);
            }
        }

        _logger.LogDebug("reaped pid {Pid} (status {Status}) that nobody waits for yet", pid, exit.Status);
    }
}
