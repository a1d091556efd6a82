namespace Isola.Plugins.Sandboxer.Transport;

/// <summary>The two wire-incompatible generations of containerd.services.sandbox.v1.Controller.</summary>
internal enum SandboxApiGeneration
{
    /// <summary>Kuasar 0.x and the kuasar-io/containerd fork.</summary>
    V0,
    /// <summary>Kuasar 1.x, containerd 1.7.25+ and 2.x.</summary>
    V1,
}
