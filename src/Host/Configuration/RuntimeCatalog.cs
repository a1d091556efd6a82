using Isola.Controllers;
using Isola.Hosting.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Configuration;

/// <summary>
/// Builds the runtime handlers of <c>Isola:Runtimes</c>: each names a controller factory and hands it its
/// <c>Options</c> section. Fails at start, naming the key, on an invalid name, an unknown controller or a missing
/// default runtime; options the factory rejects fail when the handler's controller is built (see <see cref="RuntimeTable"/>).
/// </summary>
internal static class RuntimeCatalog
{
    /// <summary>The handler used when no runtime is configured and a "shim" controller is available.</summary>
    public const string ImplicitRuntime = "runc";

    public static RuntimeTable Build(IConfiguration configuration, IsolaSettings settings,
        PluginCatalog plugins, ILoggerFactory loggerFactory)
    {
        // Configuration keys are case-insensitive (ISOLA__RUNTIMES__KATA__CONTROLLER configures "KATA"), so runtime
        // names must be too, or a handler configured through the environment could never be selected as "kata".
        var handlers = new Dictionary<string, RuntimeHandler>(StringComparer.OrdinalIgnoreCase);
        var section = configuration.GetSection($"{IsolaSettings.Section}:Runtimes");
        var configured = section.GetChildren().ToList();
        foreach (var runtime in configured)
        {
            var key = runtime.Path;
            if (!IdValidator.IsValid(runtime.Key))
            {
                throw IsolaException.InvalidArgument($"{key}: invalid runtime name '{runtime.Key}' (letters, digits, '.', '_', '-')");
            }

            var controllerName = runtime["Controller"];
            if (string.IsNullOrWhiteSpace(controllerName))
            {
                throw IsolaException.InvalidArgument(
                    $"{key}:Controller: missing; name a controller (known: {PluginCatalog.Known(plugins.ControllerNames)})");
            }

            handlers[runtime.Key] = Create(runtime.Key, controllerName, runtime.GetSection("Options"), settings, plugins, loggerFactory);
        }

        if (configured.Count == 0 && plugins.FindController("shim") is not null && !settings.DefaultRuntimeExplicit)
        {
            // Nothing is configured under Isola:Runtimes, so this section is empty; it gives the factory the usual key.
            var options = section.GetSection($"{ImplicitRuntime}:Options");
            handlers[ImplicitRuntime] = Create(ImplicitRuntime, "shim", options, settings, plugins, loggerFactory);
        }

        if ((handlers.Count > 0 || settings.DefaultRuntimeExplicit) && !handlers.ContainsKey(settings.DefaultRuntime))
        {
            throw IsolaException.InvalidArgument(
                $"{IsolaSettings.Section}:DefaultRuntime: no runtime named '{settings.DefaultRuntime}' (configured: {PluginCatalog.Known(handlers.Keys)})");
        }

        return new RuntimeTable(handlers);
    }

    private static RuntimeHandler Create(string name, string controllerName, IConfiguration options, IsolaSettings settings,
        PluginCatalog plugins, ILoggerFactory loggerFactory)
    {
        var key = $"{IsolaSettings.Section}:Runtimes:{name}";
        var factory = plugins.FindController(controllerName)
            ?? throw IsolaException.InvalidArgument(
                $"{key}:Controller: no controller named '{controllerName}' (known: {PluginCatalog.Known(plugins.ControllerNames)})");
        var context = new ControllerContext(name, options, $"{key}:Options", settings.Root, loggerFactory, plugins);
        return new RuntimeHandler(name, factory.Name, string.Equals(name, settings.DefaultRuntime, StringComparison.OrdinalIgnoreCase),
            options, () => CreateController(factory, context, key));
    }

    /// <summary>Runs the factory; an error that does not name the handler is wrapped in one that does.</summary>
    private static ISandboxController CreateController(ISandboxControllerFactory factory, ControllerContext context, string key)
    {
        try
        {
            return factory.Create(context);
        }
        catch (IsolaException e) when (e.Message.Contains(key, StringComparison.OrdinalIgnoreCase) ||
                                       e.Message.Contains($"Runtimes:{context.RuntimeName}", StringComparison.OrdinalIgnoreCase))
        {
            throw;
        }
        catch (Exception e)
        {
            var code = e is IsolaException ie ? ie.Code : IsolaErrorCode.InvalidArgument;
            throw new IsolaException(code, $"{key}: controller '{factory.Name}' rejected its options: {e.Message}", e);
        }
    }
}
