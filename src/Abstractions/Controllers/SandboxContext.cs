using System.Text.Json.Nodes;

namespace Isola.Controllers;

/// <summary>What a controller is told about the sandbox an operation is for.</summary>
public sealed class SandboxContext
{
    private readonly Action? _checkpoint;

    /// <summary>Creates a context whose <see cref="Checkpoint"/> does nothing (tests, and contexts nothing persists).</summary>
    public SandboxContext(SandboxId id, string name, SandboxSpec spec, string stateDirectory, IDictionary<string, string> controllerData)
        : this(id, name, spec, stateDirectory, controllerData, null)
    {
    }

    /// <summary>Creates a context; <paramref name="checkpoint"/> persists <paramref name="controllerData"/> with the
    /// sandbox's record.</summary>
    public SandboxContext(SandboxId id, string name, SandboxSpec spec, string stateDirectory, IDictionary<string, string> controllerData,
        Action? checkpoint)
    {
        Id = id;
        Name = name;
        Spec = spec;
        StateDirectory = stateDirectory;
        ControllerData = controllerData;
        _checkpoint = checkpoint;
    }

    /// <summary>The sandbox id.</summary>
    public SandboxId Id { get; }

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

    /// <summary>
    /// The controller's structured recovery data (a task list, say), under the same rules as
    /// <see cref="ControllerData"/>: saved with the sandbox record after every operation and at
    /// <see cref="Checkpoint"/>, handed back after a restart. The record holds it as JSON, so data with a shape of its
    /// own needs no JSON text inside a <see cref="ControllerData"/> string. Empty unless the controller stores
    /// something (contract 1.2).
    /// </summary>
    public JsonObject ControllerState { get; init; } = [];

    /// <summary>
    /// Persists <see cref="ControllerData"/> now, in the middle of an operation, so that a host that crashes from here on
    /// hands it back to recovery (Shutdown of a half-started sandbox, say). Call it once a side effect that recovery
    /// must undo has happened and its handle is in <see cref="ControllerData"/>: a shim started, a VMM spawned, a
    /// remote sandbox created. It writes the record (an fsync), so not in a loop. Only valid during the controller call
    /// the context was passed to.
    /// </summary>
    public void Checkpoint() => _checkpoint?.Invoke();

    /// <summary>The task address and version the last Start or Status reported; empty before Start.</summary>
    public string TaskAddress { get; set; } = "";

    /// <summary>The Task API version at <see cref="TaskAddress"/>.</summary>
    public uint TaskApiVersion { get; set; }
}
