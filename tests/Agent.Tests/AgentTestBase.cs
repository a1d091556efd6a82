using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Isola.TaskApi.Protos.Task;
using Isola.Ttrpc;

namespace Isola.Agent.Tests;

/// <summary>One agent per test, and helpers that drive it the way the host's Task API client does. Containers a test
/// leaves behind are killed and deleted, and the test fails if runc state, a mount or a cgroup survives them.</summary>
public abstract class AgentTestBase : IAsyncLifetime
{
    private readonly List<string> _created = [];

    protected AgentProcess Agent { get; private set; } = null!;

    protected string WorkDir { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Agent = await AgentProcess.StartAsync();
        WorkDir = Directory.CreateTempSubdirectory("isola-agent-work-").FullName;
    }

    public async Task DisposeAsync()
    {
        foreach (var id in _created)
        {
            try
            {
                await Agent.CallAsync("Kill", new KillRequest { Id = id, Signal = 9, All = true }, Empty.Parser);
            }
            catch (TtrpcException)
            {
            }

            try
            {
                await WaitAsync(id);
                await Agent.CallAsync("Delete", new DeleteRequest { Id = id }, DeleteResponse.Parser);
            }
            catch (TtrpcException)
            {
            }
        }

        await Agent.DisposeAsync();
        Directory.Delete(WorkDir, recursive: true);
    }

    /// <summary>Creates a container running <paramref name="args"/>, with stdout and stderr in files of the work dir.</summary>
    protected Task<(string Id, string Stdout, string Stderr, uint Pid)> CreateAsync(string prefix, params string[] args) =>
        CreateAsync(prefix, pidNamespace: true, args);

    protected async Task<(string Id, string Stdout, string Stderr, uint Pid)> CreateAsync(string prefix, bool pidNamespace, params string[] args)
    {
        var id = TestBundle.NewId(prefix);
        var bundle = TestBundle.Create(WorkDir, id, args, pidNamespace: pidNamespace);
        var stdout = Path.Combine(WorkDir, id + ".out");
        var stderr = Path.Combine(WorkDir, id + ".err");
        var response = await Agent.CallAsync("Create", new CreateTaskRequest
        {
            Id = id,
            Bundle = bundle,
            Stdout = "file://" + stdout,
            Stderr = stderr,
        }, CreateTaskResponse.Parser);
        _created.Add(id);
        return (id, stdout, stderr, response.Pid);
    }

    protected void Forget(string id) => _created.Remove(id);

    /// <summary>Has <see cref="DisposeAsync"/> kill and delete a container created some other way.</summary>
    protected void Track(string id) => _created.Add(id);

    protected Task<StartResponse> StartAsync(string id, string execId = "") =>
        Agent.CallAsync("Start", new StartRequest { Id = id, ExecId = execId }, StartResponse.Parser);

    protected Task<WaitResponse> WaitAsync(string id, string execId = "") =>
        Agent.CallAsync("Wait", new WaitRequest { Id = id, ExecId = execId }, WaitResponse.Parser, TimeSpan.FromSeconds(60));

    protected Task<StateResponse> StateAsync(string id, string execId = "") =>
        Agent.CallAsync("State", new StateRequest { Id = id, ExecId = execId }, StateResponse.Parser);

    protected Task KillAsync(string id, uint signal, bool all = false, string execId = "") =>
        Agent.CallAsync("Kill", new KillRequest { Id = id, ExecId = execId, Signal = signal, All = all }, Empty.Parser);

    protected async Task<DeleteResponse> DeleteAsync(string id, string execId = "")
    {
        var response = await Agent.CallAsync("Delete", new DeleteRequest { Id = id, ExecId = execId }, DeleteResponse.Parser);
        if (execId.Length == 0)
        {
            _created.Remove(id);
        }

        return response;
    }

    protected async Task ExecAsync(string id, string execId, string stdout, params string[] args)
    {
        var spec = new System.Text.Json.Nodes.JsonObject
        {
            ["args"] = new System.Text.Json.Nodes.JsonArray(args.Select(a => (System.Text.Json.Nodes.JsonNode)a!).ToArray()),
            ["env"] = new System.Text.Json.Nodes.JsonArray("PATH=/bin"),
            ["cwd"] = "/",
            ["user"] = new System.Text.Json.Nodes.JsonObject { ["uid"] = 0, ["gid"] = 0 },
        };
        await Agent.CallAsync("Exec", new ExecProcessRequest
        {
            Id = id,
            ExecId = execId,
            Stdout = stdout,
            Spec = new Any { TypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/Process", Value = ByteString.CopyFromUtf8(spec.ToJsonString()) },
        }, Empty.Parser);
    }

    /// <summary>Runs a container to its end; returns its exit status and stdout.</summary>
    protected async Task<(uint Status, string Stdout)> RunAsync(string prefix, params string[] args)
    {
        var (id, stdout, _, _) = await CreateAsync(prefix, args);
        await StartAsync(id);
        var exit = await WaitAsync(id);
        var output = File.Exists(stdout) ? await File.ReadAllTextAsync(stdout) : "";
        await DeleteAsync(id);
        return (exit.ExitStatus, output);
    }

    /// <summary>Asserts that nothing of <paramref name="id"/> is left: runc state, the agent's state, a process or a mount.</summary>
    protected void AssertNothingLeft(string id)
    {
        Assert.False(Directory.Exists(Path.Combine(Agent.RuncRoot, id)), $"runc state of {id} left under {Agent.RuncRoot}");
        Assert.False(Directory.Exists(Path.Combine(Agent.StateDir, id)), $"agent state of {id} left under {Agent.StateDir}");
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), line => line.Contains(id, StringComparison.Ordinal));
        Assert.False(Directory.Exists("/sys/fs/cgroup/memory" + TestBundle.CgroupPath(id)), $"v1 memory cgroup of {id} left");
        Assert.False(Directory.Exists("/sys/fs/cgroup" + TestBundle.CgroupPath(id)), $"v2 cgroup of {id} left");
    }
}
