using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Isola.Scripting;

/// <summary>Creates script runners, directly or through dependency injection.</summary>
public static class IsolaScripting
{
    /// <summary>A runner over <paramref name="isola"/>. Share one per process: it owns the (lazily loaded) compiler.</summary>
    public static IScriptRunner CreateRunner(IIsola isola, ScriptingOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(isola);
        return new ScriptRunner(isola, options ?? new ScriptingOptions(), loggerFactory);
    }

    /// <summary>
    /// A runner over a host that may still be starting (<c>IsolaHostBuilder.StartAsync</c> not yet awaited), for a
    /// process that starts a host only to run a script, as <c>isola run</c> does. A run reads the script and loads its
    /// cached image while the host starts, and awaits <paramref name="isola"/> only to compile (which needs the plugin
    /// folders) or to run; a host that fails to start fails the run with the host's exception.
    /// </summary>
    public static IScriptRunner CreateRunner(Task<IIsola> isola, ScriptingOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(isola);
        return new ScriptRunner(isola, options ?? new ScriptingOptions(), loggerFactory);
    }

    /// <summary>Reads <c>Isola:Scripting</c> (CacheDir, DeniedReferenceDirectories) from <paramref name="configuration"/>.</summary>
    public static ScriptingOptions BindOptions(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        // Read by hand rather than with ConfigurationBinder: two keys do not justify its reflection, which cost every
        // `isola run` a few milliseconds. Unknown keys are ignored, as the binder ignores them.
        var section = configuration.GetSection(ScriptingOptions.SectionName);
        var options = new ScriptingOptions { CacheDir = section[nameof(ScriptingOptions.CacheDir)] };
        foreach (var entry in section.GetSection(nameof(ScriptingOptions.DeniedReferenceDirectories)).GetChildren())
        {
            if (entry.Value is not null)
            {
                options.DeniedReferenceDirectories.Add(entry.Value);
            }
        }

        return options;
    }

    /// <summary>
    /// Registers <see cref="IScriptRunner"/> (a singleton over the registered <see cref="IIsola"/>) with options from
    /// <c>Isola:Scripting</c>. Call it next to <c>services.AddIsola(configuration)</c>.
    /// </summary>
    public static IServiceCollection AddIsolaScripting(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = BindOptions(configuration);
        services.TryAddSingleton<IScriptRunner>(sp =>
            new ScriptRunner(sp.GetRequiredService<IIsola>(), options, sp.GetService<ILoggerFactory>()));
        return services;
    }
}
