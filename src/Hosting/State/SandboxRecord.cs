using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Isola.Hosting.State;

/// <summary>
/// The persisted record of one sandbox (<c>&lt;root&gt;/&lt;id&gt;/sandbox.json</c>). It is the single source of truth
/// shared by every host process: each operation reloads it under the sandbox lock and saves it before each side effect.
/// </summary>
internal sealed class SandboxRecord
{
    /// <summary>Record format version, bumped on incompatible changes.</summary>
    public int Format { get; set; } = 1;

    /// <summary>A value unique to this incarnation of the id: a handle whose generation differs from the stored one refers
    /// to a sandbox that was removed (and maybe re-created with the same id) behind its back.</summary>
    public required string Generation { get; set; }

    public required SandboxId Id { get; set; }

    public required string Name { get; set; }

    public required string Runtime { get; set; }

    public required string Controller { get; set; }

    public SandboxState State { get; set; }

    public required SandboxSpec Spec { get; set; }

    public uint Pid { get; set; }

    /// <summary>When <see cref="Pid"/> started, in clock ticks after boot (/proc/PID/stat field 22); 0 when unknown.
    /// A live process with that pid and start time is the one recorded, not a reused pid.</summary>
    public ulong PidStartTime { get; set; }

    public string TaskAddress { get; set; } = "";

    public uint TaskApiVersion { get; set; }

    public string? GuestBundleRoot { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public ExitStatus? Exit { get; set; }

    /// <summary>The controller's opaque recovery data (see <see cref="Isola.Controllers.SandboxContext.ControllerData"/>).</summary>
    public Dictionary<string, string> ControllerData { get; set; } = [];

    /// <summary>The controller's structured recovery data (see <see cref="Isola.Controllers.SandboxContext.ControllerState"/>),
    /// persisted as <see cref="PersistedControllerState"/>.</summary>
    [JsonIgnore]
    public JsonObject ControllerState { get; set; } = [];

    /// <summary>What is written of <see cref="ControllerState"/>: nothing while it is empty, so the records of
    /// controllers that keep none stay as they were.</summary>
    [JsonPropertyName("controllerState")]
    public JsonObject? PersistedControllerState
    {
        get => ControllerState.Count == 0 ? null : ControllerState;
        set => ControllerState = value ?? [];
    }

    public List<ContainerInfo> Containers { get; set; } = [];

    /// <summary>Not persisted: why the last refresh could not confirm <see cref="State"/> (see
    /// <see cref="SandboxInfo.StatusError"/>).</summary>
    [JsonIgnore]
    public string? StatusError { get; set; }

    /// <summary>The pod network, when the sandbox is on one.</summary>
    public SandboxNetwork? Network { get; set; }

    public SandboxInfo ToInfo() => new()
    {
        Id = Id,
        Name = Name,
        Runtime = Runtime,
        Controller = Controller,
        State = State,
        Spec = Spec,
        Pid = Pid,
        TaskAddress = TaskAddress,
        TaskApiVersion = TaskApiVersion,
        GuestBundleRoot = GuestBundleRoot,
        CreatedAt = CreatedAt,
        StartedAt = StartedAt,
        Exit = Exit,
        Containers = [.. Containers],
        StatusError = StatusError,
        Network = Network,
    };
}
