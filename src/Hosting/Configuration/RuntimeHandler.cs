using Isola.Controllers;
using Microsoft.Extensions.Configuration;

namespace Isola.Hosting.Configuration;

/// <summary>
/// A configured runtime handler. Its controller is built by the factory on first use (<see cref="Controller"/>), so a
/// host that never touches a runtime never pays for it; a host that must refuse a bad configuration at start calls
/// <see cref="EnsureController"/> for every handler.
/// </summary>
internal sealed class RuntimeHandler
{
    private readonly Func<ISandboxController> _create;
    private readonly IConfiguration _options;
    private readonly Lock _createLock = new();
    private ISandboxController? _controller;

    /// <param name="name">The handler's name (the configuration key's spelling).</param>
    /// <param name="controllerName">The controller kind it uses.</param>
    /// <param name="isDefault">Whether it is Isola:DefaultRuntime.</param>
    /// <param name="options">Its Options section.</param>
    /// <param name="create">Builds the controller; throws an <see cref="IsolaException"/> naming the configuration key.</param>
    public RuntimeHandler(string name, string controllerName, bool isDefault, IConfiguration options, Func<ISandboxController> create)
    {
        Name = name;
        ControllerName = controllerName;
        IsDefault = isDefault;
        _options = options;
        _create = create;
    }

    public string Name { get; }

    public string ControllerName { get; }

    public bool IsDefault { get; }

    /// <summary>The Options section flattened to relative keys ("Address", "Guest:Kernel"), read when asked for
    /// (only listings do).</summary>
    public IReadOnlyDictionary<string, string> Options =>
        _options.AsEnumerable(makePathsRelative: true)
            .Where(kv => kv.Value is not null)
            .ToDictionary(kv => kv.Key, kv => kv.Value!, StringComparer.Ordinal);

    /// <summary>The controller, built on the first call. A factory failure is not remembered: the next use tries again
    /// (a long-lived host may meanwhile have been given the file or socket the factory wanted).</summary>
    public ISandboxController Controller => Volatile.Read(ref _controller) ?? EnsureController();

    /// <summary>The controller if it has been built, else null (disposal must not build one).</summary>
    public ISandboxController? CreatedController => Volatile.Read(ref _controller);

    /// <summary>Builds the controller now if it is not built yet, and returns it.</summary>
    public ISandboxController EnsureController()
    {
        lock (_createLock)
        {
            if (_controller is null)
            {
                Volatile.Write(ref _controller, _create());
            }

            return _controller;
        }
    }

    /// <summary>What <c>isola runtimes ls</c> shows: the handler's options, overlaid with what the controller reports
    /// (<see cref="IReportsRuntimeDetails"/>), read now because controllers detect some details lazily. Builds the
    /// controller; a handler whose factory rejects its options is listed with that error as its "error" detail.</summary>
    public RuntimeInfo Info
    {
        get
        {
            var details = new Dictionary<string, string>(Options, StringComparer.Ordinal);
            ISandboxController controller;
            try
            {
                controller = Controller;
            }
            catch (Exception e)
            {
                // The operator's view of every runtime: one whose factory rejects its options is listed with why.
                details["error"] = e.Message;
                return new RuntimeInfo(Name, ControllerName, IsDefault, details);
            }

            if (controller is IReportsRuntimeDetails reporter)
            {
                try
                {
                    foreach (var (key, value) in reporter.Details)
                    {
                        details[key] = value;
                    }
                }
                catch (Exception e)
                {
                    details["error"] = e.Message; // a listing must not fail because one controller cannot describe itself
                }
            }

            return new RuntimeInfo(Name, ControllerName, IsDefault, details);
        }
    }
}
