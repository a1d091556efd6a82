namespace Isola.Controllers;

/// <summary>
/// A runtime handler a controller kind offers for a host whose configuration names none (<c>Isola:Runtimes</c> empty
/// and <c>Isola:DefaultRuntime</c> unset), so that a fresh install works without a configuration file: the shim plugin
/// offers <c>runc</c> on its <c>shim</c> controller. The host then builds the handler as if it had been configured
/// under <c>Isola:Runtimes:&lt;Name&gt;</c>, and makes it the default runtime.
/// </summary>
public sealed class DefaultRuntimeOffer
{
    /// <summary>Creates an offer.</summary>
    /// <param name="name">The runtime handler's name (1-64 letters, digits, '.', '_', '-').</param>
    /// <param name="options">The handler's options, as keys relative to its <c>Options</c> section ("Runtime",
    /// "Guest:Kernel"); null for none, which leaves every option at the factory's default.</param>
    public DefaultRuntimeOffer(string name, IReadOnlyDictionary<string, string?>? options = null)
    {
        Name = name;
        Options = options ?? new Dictionary<string, string?>();
    }

    /// <summary>The runtime handler's name; also the default runtime's name when <c>Isola:DefaultRuntime</c> is unset.</summary>
    public string Name { get; }

    /// <summary>The handler's options, keys relative to its <c>Options</c> section.</summary>
    public IReadOnlyDictionary<string, string?> Options { get; }
}
