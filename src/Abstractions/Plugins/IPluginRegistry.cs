using Isola.Controllers;
using Isola.Executors;
using Isola.Vmm;

namespace Isola.Plugins;

/// <summary>Where a plugin registers what it provides. Each call throws when the name or scheme is taken.</summary>
public interface IPluginRegistry
{
    /// <summary>Registers a controller kind under <see cref="ISandboxControllerFactory.Name"/>.</summary>
    void AddController(ISandboxControllerFactory factory);

    /// <summary>Registers a VMM under <see cref="IVmm.Name"/>.</summary>
    void AddVmm(IVmm vmm);

    /// <summary>Registers an executor for each of its <see cref="ITaskExecutor.Schemes"/>.</summary>
    void AddExecutor(ITaskExecutor executor);
}

/// <summary>Lookup of what all plugins registered, for plugins that build on each other's extension points
/// (the <c>vm</c> controller picks a VMM by name).</summary>
public interface IPluginServices
{
    /// <summary>The VMM registered under <paramref name="name"/>; throws <see cref="IsolaErrorCode.NotFound"/> listing the known ones.</summary>
    IVmm GetVmm(string name);

    /// <summary>The executor registered for <paramref name="scheme"/>; throws <see cref="IsolaErrorCode.NotFound"/> naming it.</summary>
    ITaskExecutor GetExecutor(string scheme);
}
