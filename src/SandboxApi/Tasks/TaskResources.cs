using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Isola.SandboxApi.Tasks;

/// <summary>
/// The declarative container list a v1 sandboxer receives in <c>Sandbox.extensions["tasks"]</c> with
/// <c>Update(fields=["extensions.tasks"])</c> (Kuasar's TaskResources; iSulad and Kuasar's shim send the same shape).
/// The receiver diffs it against the previous list: a new task_id adds a container, a missing one removes it, and
/// likewise for exec_id in <see cref="TaskResource.Processes"/>.
/// </summary>
public sealed class TaskResources
{
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    /// <summary>Every container the sandbox should hold.</summary>
    [JsonPropertyName("tasks")]
    public List<TaskResource> Tasks { get; set; } = [];

    /// <summary>The task with <paramref name="taskId"/>, or null.</summary>
    public TaskResource? Find(string taskId) => Tasks.Find(t => t.TaskId == taskId);

    /// <summary>Serialises the list as UTF-8 JSON, the Any value Kuasar decodes.</summary>
    public byte[] ToUtf8Json() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    /// <summary>Parses a list; an empty input is an empty list. Throws <see cref="JsonException"/> on malformed JSON.</summary>
    public static TaskResources Parse(ReadOnlySpan<byte> utf8Json) =>
        utf8Json.IsEmpty ? new TaskResources() : JsonSerializer.Deserialize<TaskResources>(utf8Json, Json) ?? new TaskResources();

    /// <summary>The list as a JSON object (what a sandbox record keeps), sharing no node with this list.</summary>
    public JsonObject ToJsonObject() => JsonSerializer.SerializeToNode(this, Json)!.AsObject();

    /// <summary>Reads a list kept as a JSON object; the result shares no node with <paramref name="node"/>.</summary>
    public static TaskResources FromJsonObject(JsonObject node) => node.Deserialize<TaskResources>(Json) ?? new TaskResources();

    /// <summary>A deep copy, so a change can be attempted and dropped if the peer refuses it.</summary>
    public TaskResources Clone() => Parse(ToUtf8Json());
}

/// <summary>One container of the task list.</summary>
public sealed class TaskResource
{
    /// <summary>The container id.</summary>
    [JsonPropertyName("task_id")]
    public string TaskId { get; set; } = "";

    /// <summary>The full OCI runtime spec (config.json) object. Kuasar requires "ociVersion" and "process.cwd".</summary>
    [JsonPropertyName("spec")]
    public JsonObject? Spec { get; set; }

    /// <summary>Rootfs mounts in the OCI mount shape (destination empty).</summary>
    [JsonPropertyName("rootfs")]
    public List<TaskMount> Rootfs { get; set; } = [];

    /// <summary>Standard input: a FIFO path or URL.</summary>
    [JsonPropertyName("stdin")]
    public string Stdin { get; set; } = "";

    /// <summary>Standard output.</summary>
    [JsonPropertyName("stdout")]
    public string Stdout { get; set; } = "";

    /// <summary>Standard error.</summary>
    [JsonPropertyName("stderr")]
    public string Stderr { get; set; } = "";

    /// <summary>Exec processes of this container.</summary>
    [JsonPropertyName("processes")]
    public List<ProcessResource> Processes { get; set; } = [];
}

/// <summary>A rootfs mount in the OCI mount shape (not containerd.types.Mount).</summary>
public sealed class TaskMount
{
    /// <summary>Filesystem type, for example "bind" or "overlay".</summary>
    [JsonPropertyName("type")]
    public string Type { get; set; } = "";

    /// <summary>Host path or device.</summary>
    [JsonPropertyName("source")]
    public string Source { get; set; } = "";

    /// <summary>Empty for a rootfs mount.</summary>
    [JsonPropertyName("destination")]
    public string Destination { get; set; } = "";

    /// <summary>Mount options.</summary>
    [JsonPropertyName("options")]
    public List<string> Options { get; set; } = [];
}

/// <summary>An exec process of a container in the task list.</summary>
public sealed class ProcessResource
{
    /// <summary>The exec id.</summary>
    [JsonPropertyName("exec_id")]
    public string ExecId { get; set; } = "";

    /// <summary>The OCI Process object; Kuasar requires "cwd".</summary>
    [JsonPropertyName("spec")]
    public JsonObject? Spec { get; set; }

    /// <summary>Standard input.</summary>
    [JsonPropertyName("stdin")]
    public string Stdin { get; set; } = "";

    /// <summary>Standard output.</summary>
    [JsonPropertyName("stdout")]
    public string Stdout { get; set; } = "";

    /// <summary>Standard error.</summary>
    [JsonPropertyName("stderr")]
    public string Stderr { get; set; } = "";
}
