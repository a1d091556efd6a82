using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace Isola.Hosting.Configuration;

/// <summary>
/// The runtime handlers by name (case-insensitive). Looking a handler up is what uses a runtime: <see cref="TryGetValue"/>
/// and the indexer build its controller before returning it, so a factory that rejects its options fails the lookup,
/// with the error naming the configuration key, before the caller has written or started anything. Listing the names
/// (<see cref="Keys"/>, for "configured: ..." messages) builds nothing.
/// </summary>
internal sealed class RuntimeTable(Dictionary<string, RuntimeHandler> handlers) : IReadOnlyDictionary<string, RuntimeHandler>
{
    public int Count => handlers.Count;

    public IEnumerable<string> Keys => handlers.Keys;

    /// <summary>The handlers as configured, their controllers built or not.</summary>
    public IEnumerable<RuntimeHandler> Values => handlers.Values;

    public RuntimeHandler this[string key] =>
        TryGetValue(key, out var handler) ? handler : throw new KeyNotFoundException($"no runtime named '{key}'");

    public bool ContainsKey(string key) => handlers.ContainsKey(key);

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out RuntimeHandler value)
    {
        if (!handlers.TryGetValue(key, out value))
        {
            return false;
        }

        value.EnsureController();
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

    public IEnumerator<KeyValuePair<string, RuntimeHandler>> GetEnumerator() => handlers.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
