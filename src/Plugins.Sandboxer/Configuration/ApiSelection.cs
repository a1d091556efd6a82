namespace Isola.Plugins.Sandboxer.Configuration;

/// <summary>Which Sandbox API wire generation to speak.</summary>
internal enum ApiSelection
{
    /// <summary>Probe the server once per endpoint (Metrics exists only in v1).</summary>
    Auto,
    /// <summary>Kuasar 0.x / the kuasar-io/containerd fork: sandboxer=1, sandbox_id=2, Prepare/Purge.</summary>
    V0,
    /// <summary>Kuasar 1.x / containerd 2.x: sandbox_id=1, sandboxer=10, Update(extensions.tasks), Metrics.</summary>
    V1,
}
