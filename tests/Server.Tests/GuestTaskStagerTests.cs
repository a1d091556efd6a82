using System.Text.Json.Nodes;
using Isola.Controllers;
using Isola.SandboxApi.Tasks;
using Isola.Server.Tasks;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Server.Tests;

/// <summary>serve's Update of a VM sandbox's task list becomes the sandbox controller's Prepare and Purge calls, diffed
/// against what was applied before (also by an earlier serve process).</summary>
public sealed class GuestTaskStagerTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "isola-stager-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, true);
        }
    }

    [Fact]
    public async Task New_tasks_and_execs_are_prepared_once_and_those_gone_from_the_list_are_purged()
    {
        var sandbox = new StagingSandbox();
        var stager = new GuestTaskStager(_root, NullLogger.Instance);

        await stager.ApplyAsync(sandbox, List(("c1", []), ("c2", ["e1"])), CancellationToken.None);
        await stager.ApplyAsync(sandbox, List(("c1", []), ("c2", ["e1"])), CancellationToken.None);
        // A new serve process finds the applied list on disk.
        var restarted = new GuestTaskStager(_root, NullLogger.Instance);
        await restarted.ApplyAsync(sandbox, List(("c2", ["e2"])), CancellationToken.None);

        Assert.Equal(["prepare c1", "prepare c2", "prepare c2/e1", "purge c1", "purge c2/e1", "prepare c2/e2"], sandbox.Calls);
        Assert.Equal("/data/c2-rootfs", sandbox.Prepared["c2"].Container.Rootfs);
        Assert.Equal(["sh", "-c", "c2"], sandbox.Prepared["c2"].Container.Args);
        Assert.Equal("file:///logs/c2.out", sandbox.Prepared["c2"].Stdio.Stdout);
    }

    [Fact]
    public async Task A_failed_prepare_keeps_what_was_done_so_the_next_update_does_not_repeat_it()
    {
        var sandbox = new StagingSandbox { FailOn = "c2" };
        var stager = new GuestTaskStager(_root, NullLogger.Instance);

        var e = await Assert.ThrowsAsync<IsolaException>(() => stager.ApplyAsync(sandbox, List(("c1", []), ("c2", [])), CancellationToken.None));
        sandbox.FailOn = null;
        await stager.ApplyAsync(sandbox, List(("c1", []), ("c2", [])), CancellationToken.None);

        Assert.Contains("c2", e.Message);
        Assert.Equal(["prepare c1", "prepare c2", "prepare c2"], sandbox.Calls);
    }

    [Fact]
    public async Task A_task_whose_bundle_must_travel_in_Create_options_is_refused_naming_it_and_purged()
    {
        var sandbox = new StagingSandbox { CarriesOptions = true };
        var stager = new GuestTaskStager(_root, NullLogger.Instance);

        var e = await Assert.ThrowsAsync<IsolaException>(() => stager.ApplyAsync(sandbox, List(("c1", [])), CancellationToken.None));
        await stager.ApplyAsync(sandbox, new TaskResources(), CancellationToken.None);

        Assert.Equal(IsolaErrorCode.FailedPrecondition, e.Code);
        Assert.Contains("c1", e.Message);
        Assert.Contains("SharedFs", e.Message);
        Assert.Equal(["prepare c1", "purge c1"], sandbox.Calls); // purged at once, and not recorded as staged
    }

    [Fact]
    public void A_task_without_an_absolute_rootfs_source_is_refused_naming_it()
    {
        var task = new TaskResource { TaskId = "norootfs", Spec = new JsonObject() };

        var e = Assert.Throws<IsolaException>(() => TaskRequests.Container("sb1", task));

        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains("'norootfs'", e.Message);
    }

    private static TaskResources List(params (string Id, string[] Execs)[] tasks) => new()
    {
        Tasks = [.. tasks.Select(t => new TaskResource
        {
            TaskId = t.Id,
            Spec = new JsonObject { ["process"] = new JsonObject { ["args"] = new JsonArray("sh", "-c", t.Id) } },
            Rootfs = [new TaskMount { Type = "bind", Source = $"/data/{t.Id}-rootfs", Options = ["rbind"] }],
            Stdout = $"file:///logs/{t.Id}.out",
            Processes = [.. t.Execs.Select(e => new ProcessResource { ExecId = e, Spec = new JsonObject { ["args"] = new JsonArray("true") } })],
        })],
    };

    /// <summary>Records the staging calls serve makes; everything else is out of scope here.</summary>
    private sealed class StagingSandbox : ISandbox
    {
        public List<string> Calls { get; } = [];

        public Dictionary<string, PrepareRequest> Prepared { get; } = [];

        public string? FailOn { get; set; }

        /// <summary>Answers as a vm runtime without a shared filesystem does: config.json in Create's options.</summary>
        public bool CarriesOptions { get; set; }

        public SandboxId Id => "sb1";

        public string Name => "sb1";

        public SandboxInfo Info => throw new NotSupportedException();

        public IContainers Containers => throw new NotSupportedException();

        public Task<PrepareResult> PrepareAsync(PrepareRequest request, CancellationToken cancellationToken = default)
        {
            Calls.Add(request.ExecId is null ? $"prepare {request.ContainerId}" : $"prepare {request.ContainerId}/{request.ExecId}");
            if (request.ContainerId.Value == FailOn)
            {
                throw IsolaException.Internal($"cannot stage container {request.ContainerId}");
            }

            if (request.ExecId is null)
            {
                Prepared[request.ContainerId.Value] = request;
            }
            return Task.FromResult(new PrepareResult("/run/kuasar/state/" + request.ContainerId, [])
            {
                Options = CarriesOptions ? ("isola.agent.v1.BundleConfig", [1, 2, 3]) : null,
            });
        }

        public Task PurgeAsync(PurgeRequest request, CancellationToken cancellationToken = default)
        {
            Calls.Add(request.ExecId is null ? $"purge {request.ContainerId}" : $"purge {request.ContainerId}/{request.ExecId}");
            return Task.CompletedTask;
        }

        public Task StartAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<SandboxInfo> InspectAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task StopAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task RemoveAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<ExitStatus> WaitAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task UpdateResourcesAsync(LinuxResources resources, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<PlatformInfo> PlatformAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();
    }
}
