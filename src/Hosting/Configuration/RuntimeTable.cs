using System.Diagnostics.CodeAnalysis;

namespace Isola.Hosting.Configuration;

/// <summary>
/// The runtime handlers by name (case-insensitive). Resolving a handler is what uses a runtime:
/// <see cref="TryResolve"/> builds its controller before returning it, so a factory that rejects its options fails the
/// lookup, with the error naming the configuration key, before the caller has written or started anything. Listing the
/// names (<see cref="Names"/>, for "configured: ..." messages) builds nothing. Not a dictionary on purpose: a lookup
/// that may build a controller and throw should not look like one.
/// </summary>
internal sealed class RuntimeTable(Dictionary<string, RuntimeHandler> handlers, string? defaultRuntime = null)
{
    /// <summary>The runtime a sandbox that names none runs on: Isola:DefaultRuntime, or the one a plugin offered;
    /// null when there is neither.</summary>
    public string? Default => defaultRuntime;

    /// <summary>How many handlers are configured.</summary>
    public int Count => handlers.Count;

    /// <summary>The handlers' names as configured.</summary>
    public IEnumerable<string> Names => handlers.Keys;

    /// <summary>The handler named <paramref name="name"/> with its controller built; false when no handler has that
    /// name. Throws the factory's error when the controller cannot be built.</summary>
    public bool TryResolve(string name, [MaybeNullWhen(false)] out RuntimeHandler handler)
    {
        if (!handlers.TryGetValue(name, out handler))
        {
            return false;
        }

        handler.EnsureController();
        return true;
    }

    /// <summary>The handlers sorted by name (ordinal), their controllers built or not.</summary>
    public List<RuntimeHandler> SortedByName()
    {
        // List.Sort rather than LINQ's OrderBy: this runs at every host start, and OrderBy's generic instantiation is
        // JIT-compiled on first use.
        var sorted = new List<RuntimeHandler>(handlers.Values);
        sorted.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return sorted;
    }

    /// <summary>Builds every controller now: a long-running host refuses to start on a configuration it cannot serve.</summary>
    public void EnsureAllControllers()
    {
        foreach (var handler in handlers.Values) // configuration order, so the first bad key is the one reported
        {
            handler.EnsureController();
        }
    }
}
