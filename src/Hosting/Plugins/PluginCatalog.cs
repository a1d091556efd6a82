using Isola.Controllers;
using Isola.Executors;
using Isola.Plugins;
using Isola.Vmm;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Plugins;

/// <summary>
/// What every loaded plugin registered: controller factories, VMMs and executors by name or scheme
/// (case-insensitive). A name registered twice fails naming both plugins.
/// </summary>
internal sealed class PluginCatalog : IPluginServices
{
    private readonly Dictionary<string, (ISandboxControllerFactory Factory, string Owner)> _controllers = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (IVmm Vmm, string Owner)> _vmms = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (ITaskExecutor Executor, string Owner)> _executors = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<PluginInfo> _plugins = [];

    /// <summary>The plugins registered so far.</summary>
    public IReadOnlyList<PluginInfo> Plugins => _plugins;

    /// <summary>Known controller names, sorted.</summary>
    public IReadOnlyList<string> ControllerNames => [.. _controllers.Keys.Order(StringComparer.OrdinalIgnoreCase)];

    /// <summary>Runs <paramref name="plugin"/>'s Register and records what it added.</summary>
    /// <param name="plugin">The plugin.</param>
    /// <param name="directory">The folder it came from; empty for in-process plugins.</param>
    /// <param name="version">Its assembly version.</param>
    public void Register(IIsolaPlugin plugin, string directory, string version)
    {
        var label = string.IsNullOrEmpty(directory) ? $"'{plugin.Name}' (in-process)" : $"'{plugin.Name}' ({directory})";
        var registrar = new Registrar(this, label);
        try
        {
            plugin.Register(registrar);
        }
        catch (IsolaException)
        {
            throw;
        }
        catch (Exception e)
        {
            throw new IsolaException(IsolaErrorCode.Internal, $"plugin {label}: Register failed: {e.Message}", e);
        }

        _plugins.Add(new PluginInfo(plugin.Name, directory, version, registrar.Controllers, registrar.Vmms, registrar.Schemes));
    }

    /// <summary>The runtime handlers the controller factories offer for a configuration that names none, with the
    /// controller and the plugin of each, sorted by controller name.</summary>
    public List<(string Controller, string Owner, DefaultRuntimeOffer Offer)> DefaultRuntimeOffers()
    {
        var offers = new List<(string Controller, string Owner, DefaultRuntimeOffer Offer)>();
        foreach (var (name, (factory, owner)) in _controllers)
        {
            if (factory.DefaultRuntime is { } offer)
            {
                offers.Add((name, owner, offer));
            }
        }

        offers.Sort((a, b) => StringComparer.OrdinalIgnoreCase.Compare(a.Controller, b.Controller));
        return offers;
    }

    /// <summary>The controller factory named <paramref name="name"/>, or null.</summary>
    public ISandboxControllerFactory? FindController(string name) =>
        _controllers.TryGetValue(name, out var entry) ? entry.Factory : null;

    /// <inheritdoc />
    public IVmm GetVmm(string name) =>
        _vmms.TryGetValue(name, out var entry)
            ? entry.Vmm
            : throw IsolaException.NotFound($"no VMM named '{name}' (known: {Known(_vmms.Keys)})");

    /// <inheritdoc />
    public ITaskExecutor GetExecutor(string scheme) =>
        _executors.TryGetValue(scheme, out var entry)
            ? entry.Executor
            : throw IsolaException.NotFound($"no executor for task-address scheme '{scheme}' (known: {Known(_executors.Keys)})");

    /// <summary>Disposes every registered factory, VMM and executor that is disposable (once each).</summary>
    public Task DisposeAsync(ILogger logger)
    {
        // Collected without LINQ and without entering an async method when, as usual, nothing is disposable: this runs
        // at the end of every command, where each JIT-compiled instantiation or state machine costs start-up time.
        var disposables = new List<object>();
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        foreach (var (factory, _) in _controllers.Values)
        {
            AddDisposable(factory);
        }

        foreach (var (vmm, _) in _vmms.Values)
        {
            AddDisposable(vmm);
        }

        foreach (var (executor, _) in _executors.Values)
        {
            AddDisposable(executor);
        }

        return disposables.Count == 0 ? Task.CompletedTask : DisposeAllAsync(disposables, logger);

        void AddDisposable(object item)
        {
            if (item is (IDisposable or IAsyncDisposable) && seen.Add(item))
            {
                disposables.Add(item);
            }
        }
    }

    private static async Task DisposeAllAsync(List<object> items, ILogger logger)
    {
        foreach (var item in items)
        {
            await IsolaHost.DisposeQuietlyAsync(item, logger).ConfigureAwait(false);
        }
    }

    /// <summary>Comma-separated, sorted names, or "none".</summary>
    public static string Known(IEnumerable<string> names)
    {
        var list = names.Order(StringComparer.OrdinalIgnoreCase).ToList();
        return list.Count == 0 ? "none" : string.Join(", ", list);
    }

    private static void Add<T>(Dictionary<string, (T Item, string Owner)> map, string kind, string? name, T item, string owner)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw IsolaException.InvalidArgument($"plugin {owner}: registered a {kind} with an empty name");
        }

        if (map.TryGetValue(name, out var existing))
        {
            throw new IsolaException(IsolaErrorCode.AlreadyExists,
                $"{kind} '{name}' is registered by both plugin {existing.Owner} and plugin {owner}; remove one of them");
        }

        map[name] = (item, owner);
    }

    private sealed class Registrar(PluginCatalog catalog, string owner) : IPluginRegistry
    {
        public List<string> Controllers { get; } = [];

        public List<string> Vmms { get; } = [];

        public List<string> Schemes { get; } = [];

        public void AddController(ISandboxControllerFactory factory)
        {
            ArgumentNullException.ThrowIfNull(factory);
            Add(catalog._controllers, "controller", factory.Name, factory, owner);
            Controllers.Add(factory.Name);
        }

        public void AddVmm(IVmm vmm)
        {
            ArgumentNullException.ThrowIfNull(vmm);
            Add(catalog._vmms, "VMM", vmm.Name, vmm, owner);
            Vmms.Add(vmm.Name);
        }

        public void AddExecutor(ITaskExecutor executor)
        {
            ArgumentNullException.ThrowIfNull(executor);
            if (executor.Schemes.Count == 0)
            {
                throw IsolaException.InvalidArgument($"plugin {owner}: executor '{executor.Name}' serves no task-address scheme");
            }

            foreach (var scheme in executor.Schemes)
            {
                Add(catalog._executors, "task-address scheme", scheme.ToLowerInvariant(), executor, owner);
                Schemes.Add(scheme.ToLowerInvariant());
            }
        }
    }
}
