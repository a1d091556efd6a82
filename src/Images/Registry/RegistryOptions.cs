namespace Isola.Images;

/// <summary>How to reach registries (configuration section <c>Images:Registries</c>, keyed by the registry's name
/// as references write it, e.g. <c>localhost:5000</c>).</summary>
public sealed class RegistryOptions
{
    /// <summary>Per-registry settings.</summary>
    public Dictionary<string, RegistryHostOptions> Registries { get; init; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The settings for <paramref name="registry"/>, or defaults.</summary>
    public RegistryHostOptions For(string registry) => Registries.TryGetValue(registry, out var o) ? o : new RegistryHostOptions();
}

/// <summary>One registry's settings.</summary>
public sealed class RegistryHostOptions
{
    /// <summary>Plain HTTP instead of HTTPS. Loopback registries (<c>localhost</c>, <c>127.0.0.1</c>, <c>[::1]</c>)
    /// use plain HTTP without it, as containerd does.</summary>
    public bool Insecure { get; set; }

    /// <summary>User name for basic credentials (sent to the registry's token service, or to the registry when it asks
    /// for basic authentication).</summary>
    public string? Username { get; set; }

    /// <summary>Password or token for <see cref="Username"/>.</summary>
    public string? Password { get; set; }

    /// <summary>Another host to pull from instead (a mirror, <c>host:port</c>).</summary>
    public string? Endpoint { get; set; }
}
