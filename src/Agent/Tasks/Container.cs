using System.Collections.Concurrent;

namespace Isola.Agent.Tasks;

/// <summary>One container the agent created: its bundle, runc files, rootfs mounts, init process and exec processes.</summary>
internal sealed class Container
{
    public Container(string id, string bundle, string stateDir, TaskProcess init)
    {
        Id = id;
        Bundle = bundle;
        StateDir = stateDir;
        Init = init;
    }

    public string Id { get; }

    public string Bundle { get; }

    /// <summary>The agent's directory for this container: pid files, runc's log, exec process specs.</summary>
    public string StateDir { get; }

    public string LogFile => Path.Combine(StateDir, "runc.log");

    public TaskProcess Init { get; }

    public ConcurrentDictionary<string, TaskProcess> Execs { get; } = new(StringComparer.Ordinal);

    /// <summary>The config.json the host carried in Create's options (no shared filesystem), or null.</summary>
    public byte[]? CarriedConfig { get; init; }

    /// <summary>True once the agent wrote the bundle itself: Delete removes it.</summary>
    public bool OwnsBundle { get; set; }

    /// <summary>Mount points to unmount on Delete (the rootfs mounts of Create).</summary>
    public IReadOnlyList<string> Mounts { get; set; } = [];

    /// <summary>Serialises lifecycle changes (Start, Exec, Delete) of this container.</summary>
    public SemaphoreSlim Lock { get; } = new(1, 1);
}
