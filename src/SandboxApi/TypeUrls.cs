namespace Isola.SandboxApi;

/// <summary>The <c>google.protobuf.Any</c> type urls the Sandbox API peers use. They carry no
/// "type.googleapis.com/" prefix: containerd's typeurl registers the bare message name.</summary>
public static class TypeUrls
{
    /// <summary>ControllerCreateRequest.options: a CRI PodSandboxConfig (what containerd 2.x sends).</summary>
    public const string PodSandboxConfig = "runtime.v1.PodSandboxConfig";

    /// <summary>Sandbox.extensions["tasks"]: the declarative task list as JSON (what iSulad sends).</summary>
    public const string Tasks = "github.com/containerd/containerd/Tasks";

    /// <summary>The key of the task list in Sandbox.extensions, and the field mask entry of Update.</summary>
    public const string TasksExtension = "tasks";

    /// <summary>The Update field mask that makes Kuasar diff the task list.</summary>
    public const string TasksField = "extensions.tasks";

    /// <summary>An OCI runtime-spec Process as JSON (containerd's Exec spec type url).</summary>
    public const string OciProcess = "types.containerd.io/opencontainers/runtime-spec/1/Process";

    /// <summary>An OCI runtime-spec config as JSON.</summary>
    public const string OciSpec = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

    /// <summary>OCI LinuxResources as JSON.</summary>
    public const string OciLinuxResources = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";
}
