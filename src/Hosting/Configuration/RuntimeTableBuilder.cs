using Isola.Controllers;
using Isola.Hosting.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.Configuration;

/// <summary>
/// Builds the runtime handlers of <c>Isola:Runtimes</c>: each names a controller factory and hands it its
/// <c>Options</c> section. When the section is empty and <c>Isola:DefaultRuntime</c> unset, the runtime a controller
/// factory offers (<see cref="ISandboxControllerFactory.DefaultRuntime"/>: the shim plugin's <c>runc</c>) stands in for
/// it, so a fresh install needs no configuration file; the host itself names no controller or runtime. Fails at start,
/// naming the key, on an invalid name, an unknown controller or a missing default runtime; options the factory rejects
/// fail when the handler's controller is built (see <see cref="RuntimeTable"/>).
/// </summary>
internal static class RuntimeTableBuilder
{
    public static RuntimeTable Build(IConfiguration configuration, IsolaSettings settings,
        PluginCatalog plugins, ILoggerFactory loggerFactory)
    {
        var offers = plugins.DefaultRuntimeOffers();
        // Unset, the default is the runtime a plugin offers, whether or not the configuration builds that runtime
        // itself: with the shim plugin loaded, "runc" is the default as it always was.
        var defaultRuntime = settings.DefaultRuntime ?? (offers.Count == 1 ? offers[0].Offer.Name : null);

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

            handlers[runtime.Key] = Create(runtime.Key, controllerName, runtime.GetSection("Options"), defaultRuntime, settings, plugins, loggerFactory);
        }

        if (configured.Count == 0 && settings.DefaultRuntime is null && offers.Count > 0)
        {
            var (name, options) = Offered(offers, section);
            handlers[name] = Create(name, offers[0].Controller, options, defaultRuntime, settings, plugins, loggerFactory);
        }

        if (defaultRuntime is null && handlers.Count > 0)
        {
            throw IsolaException.InvalidArgument(
                $"{IsolaSettings.Section}:DefaultRuntime: missing; name one of the configured runtimes ({PluginCatalog.Known(handlers.Keys)})");
        }

        if (defaultRuntime is not null && (handlers.Count > 0 || settings.DefaultRuntime is not null) && !handlers.ContainsKey(defaultRuntime))
        {
            throw IsolaException.InvalidArgument(
                $"{IsolaSettings.Section}:DefaultRuntime: no runtime named '{defaultRuntime}' (configured: {PluginCatalog.Known(handlers.Keys)})");
        }

        return new RuntimeTable(handlers, defaultRuntime);
    }

    /// <summary>The one offered runtime's name and options. Several offers leave the host no way to choose.</summary>
    private static (string Name, IConfiguration Options) Offered(
        List<(string Controller, string Owner, DefaultRuntimeOffer Offer)> offers, IConfigurationSection section)
    {
        if (offers.Count > 1)
        {
            throw IsolaException.InvalidArgument(
                $"{IsolaSettings.Section}:Runtimes: none configured, and several controllers offer a default runtime ("
                + string.Join(", ", offers.Select(o => $"'{o.Offer.Name}' on '{o.Controller}'"))
                + $"); configure the runtimes and {IsolaSettings.Section}:DefaultRuntime");
        }

        var (controller, owner, offer) = offers[0];
        if (!IdValidator.IsValid(offer.Name))
        {
            throw IsolaException.InvalidArgument(
                $"plugin {owner}: controller '{controller}' offers a default runtime with an invalid name '{offer.Name}'");
        }

        // No options: the (empty) section under Isola:Runtimes, as for a configured handler, at no extra cost.
        return (offer.Name, offer.Options.Count == 0
            ? section.GetSection($"{offer.Name}:Options")
            : new ConfigurationBuilder().AddInMemoryCollection(offer.Options).Build());
    }

    private static RuntimeHandler Create(string name, string controllerName, IConfiguration options, string? defaultRuntime,
        IsolaSettings settings, PluginCatalog plugins, ILoggerFactory loggerFactory)
    {
        var key = $"{IsolaSettings.Section}:Runtimes:{name}";
        var factory = plugins.FindController(controllerName)
            ?? throw IsolaException.InvalidArgument(
                $"{key}:Controller: no controller named '{controllerName}' (known: {PluginCatalog.Known(plugins.ControllerNames)})");
        var context = new ControllerContext(name, options, $"{key}:Options", settings.Root, loggerFactory, plugins);
        return new RuntimeHandler(name, factory.Name, string.Equals(name, defaultRuntime, StringComparison.OrdinalIgnoreCase),
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
