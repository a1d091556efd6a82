namespace Isola.Controllers;

/// <summary>What a controller is told about the sandbox an operation is for.</summary>
public sealed class SandboxContext
{
    /// <summary>Creates a context.</summary>
    public SandboxContext(string id, string name, SandboxSpec spec, string stateDirectory, IDictionary<string, string> controllerData)
    {
        Id = id;
        Name = name;
        Spec = spec;
        StateDirectory = stateDirectory;
        ControllerData = controllerData;
    }

    /// <summary>The sandbox id (validated by the host).</summary>
    public string Id { get; }

    /// <summary>The sandbox name.</summary>
    public string Name { get; }

    /// <summary>The spec the sandbox was created from.</summary>
    public SandboxSpec Spec { get; }

    /// <summary>A directory (mode 0700) the host created for this sandbox and removes with it. A controller may keep
    /// files here; the host's own record file is named <c>sandbox.json</c> and must not be touched.</summary>
    public string StateDirectory { get; }

    /// <summary>The controller's own recovery data (device slots, vsock CID, shim address, ...). The host saves it
    /// atomically with the sandbox record after every operation, and hands it back after a restart.</summary>
    public IDictionary<string, string> ControllerData { get; }

    /// <summary>The task address and version the last Start or Status reported; empty before Start.</summary>
    public string TaskAddress { get; set; } = "";

    /// <summary>The Task API version at <see cref="TaskAddress"/>.</summary>
    public uint TaskApiVersion { get; set; }
}
