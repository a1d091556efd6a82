using Microsoft.Extensions.Configuration;
using Isola.Plugins;
using Microsoft.Extensions.Logging;

namespace Isola.Controllers;

/// <summary>
/// A named kind of controller ("shim", "sandboxer", "vm"). A runtime handler in configuration names it in its
/// <c>Controller</c> key; the host then calls <see cref="Create"/> for each runtime handler with that handler's options:
/// at start in a long-running host, on the handler's first use in a short-lived one. It succeeds at most once per
/// handler; a call that throws is made again at the handler's next use. Calls for different handlers may run at the
/// same time, so <see cref="Create"/> must be thread-safe, and must not leave anything behind when it throws.
/// </summary>
public interface ISandboxControllerFactory
{
    /// <summary>The name configuration selects (case-insensitive, unique across loaded plugins).</summary>
    string Name { get; }

    /// <summary>Binds and validates the runtime handler's options and returns its controller. Throws
    /// <see cref="IsolaErrorCode.InvalidArgument"/> naming the bad key (for example "Runtimes:kata:Options:Vcpus").</summary>
    ISandboxController Create(ControllerContext context);

    /// <summary>The runtime handler this controller kind offers for a host whose configuration names no runtimes (see
    /// <see cref="DefaultRuntimeOffer"/>); null, the default, offers none. Added in contract 1.2: a factory built
    /// against an older contract offers none.</summary>
    DefaultRuntimeOffer? DefaultRuntime => null;
}

/// <summary>What a controller factory is given for one runtime handler.</summary>
public sealed class ControllerContext
{
    /// <summary>Creates a context.</summary>
    public ControllerContext(string runtimeName, IConfiguration options, string configPath, string stateRoot,
        ILoggerFactory loggerFactory, IPluginServices services)
    {
        RuntimeName = runtimeName;
        Options = options;
        ConfigPath = configPath;
        StateRoot = stateRoot;
        LoggerFactory = loggerFactory;
        Services = services;
    }

    /// <summary>The runtime handler's name (the key under <c>Isola:Runtimes</c>).</summary>
    public string RuntimeName { get; }

    /// <summary>The handler's <c>Options</c> section.</summary>
    public IConfiguration Options { get; }

    /// <summary>The configuration path of <see cref="Options"/>, for error messages (for example "Isola:Runtimes:runc:Options").</summary>
    public string ConfigPath { get; }

    /// <summary>The host's state root (default /var/lib/isola). Per-sandbox state goes in <see cref="SandboxContext.StateDirectory"/>.</summary>
    public string StateRoot { get; }

    /// <summary>Where the controller gets its loggers.</summary>
    public ILoggerFactory LoggerFactory { get; }

    /// <summary>Other plugins' VMMs and executors, by name or scheme.</summary>
    public IPluginServices Services { get; }
}
