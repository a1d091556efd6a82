using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using Isola.SandboxApi.Tasks;

namespace Isola.Plugins.Sandboxer.Tests.Kuasar;

/// <summary>
/// What a Kuasar vmm-sandboxer keeps per sandbox (protocols.md 1.5), shared by both generations' doubles and kept
/// across a server restart the way Kuasar recovers its sandboxes from its working directory.
/// </summary>
internal sealed class KuasarState
{
    /// <summary>The "VMM" is this test process: a real pid, so namespace and cgroup paths derived from it exist.</summary>
    public static readonly uint VmmPid = (uint)Environment.ProcessId;
    public const string TaskAddressV1 = "ttrpc+vsock://3:1024";
    public const string TaskAddressV0 = "vsock://3:1024";

    public ConcurrentDictionary<string, KuasarSandbox> Sandboxes { get; } = new();

    /// <summary>Every request received, in order (thread-safe).</summary>
    public ConcurrentQueue<IMessage> Requests { get; } = new();

    /// <summary>Labels Start returns (Kuasar returns none; isola serve returns its bundle root).</summary>
    public Dictionary<string, string> StartLabels { get; } = [];

    /// <summary>Fault injection: the next Create creates the sandbox, then the stream is reset before the answer, as
    /// when the sandboxer crashes or the connection drops right after it acted.</summary>
    public bool ResetAfterNextCreate { get; set; }

    /// <summary>Fault injection: the next Update/Prepare fails with this code.</summary>
    public StatusCode? FailNextRegistration { get; set; }

    public T Last<T>() where T : IMessage => Requests.OfType<T>().Last();

    public IReadOnlyList<T> All<T>() where T : IMessage => Requests.OfType<T>().ToList();

    public KuasarSandbox Get(string id) =>
        Sandboxes.TryGetValue(id, out var s) ? s : throw new RpcException(new Status(StatusCode.NotFound, $"sandbox {id} not found"));

    public static void RequireId(string id)
    {
        if (string.IsNullOrEmpty(id))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "sandbox id should not be empty"));
        }
    }

    public void FailIfInjected()
    {
        if (FailNextRegistration is { } code)
        {
            FailNextRegistration = null;
            throw new RpcException(new Status(code, "injected failure"));
        }
    }
}

internal sealed class KuasarSandbox(string id)
{
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Id { get; } = id;
    public bool Running { get; private set; }
    public DateTimeOffset CreatedAt { get; } = DateTimeOffset.UtcNow;
    public DateTimeOffset? ExitedAt { get; private set; }
    public Isola.SandboxApi.Cri.PodSandboxConfig? Config { get; set; }
    public TaskResources Tasks { get; set; } = new();
    public Dictionary<string, string> Containers { get; } = [];

    public Task Exited => _exited.Task;

    public void Start() => Running = true;

    public void ForceStop()
    {
        Running = false;
        ExitedAt ??= DateTimeOffset.UtcNow;
        _exited.TrySetResult();
    }
}
