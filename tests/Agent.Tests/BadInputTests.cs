using Isola.TaskApi.Protos.Task;
using Isola.Ttrpc;

namespace Isola.Agent.Tests;

/// <summary>Each refusal is one line naming the id, and a failed Create leaves nothing behind.</summary>
public sealed class BadInputTests : AgentTestBase
{
    [Fact]
    public async Task A_missing_bundle_is_NotFound_naming_the_id()
    {
        var id = TestBundle.NewId("nobundle");
        var e = await Assert.ThrowsAsync<TtrpcException>(() => Agent.CallAsync("Create",
            new CreateTaskRequest { Id = id, Bundle = Path.Combine(WorkDir, "no-such-bundle") }, CreateTaskResponse.Parser));
        AssertOneLine(e, TtrpcStatusCode.NotFound, id);
        Assert.Contains("no-such-bundle", e.Message, StringComparison.Ordinal);
        AssertNothingLeft(id);
    }

    [Fact]
    public async Task A_missing_rootfs_is_NotFound_naming_the_id()
    {
        var id = TestBundle.NewId("norootfs");
        var bundle = TestBundle.Create(WorkDir, id, ["true"], ownRootfs: true); // BUNDLE/rootfs does not exist
        var e = await Assert.ThrowsAsync<TtrpcException>(() => Agent.CallAsync("Create",
            new CreateTaskRequest { Id = id, Bundle = bundle }, CreateTaskResponse.Parser));
        AssertOneLine(e, TtrpcStatusCode.NotFound, id);
        Assert.Contains("rootfs", e.Message, StringComparison.Ordinal);
        AssertNothingLeft(id);
    }

    [Fact]
    public async Task A_command_that_is_not_in_the_container_fails_Create_with_runcs_error_and_leaves_nothing()
    {
        var id = TestBundle.NewId("nope");
        var bundle = TestBundle.Create(WorkDir, id, ["/nope"]);
        var e = await Assert.ThrowsAsync<TtrpcException>(() => Agent.CallAsync("Create",
            new CreateTaskRequest { Id = id, Bundle = bundle }, CreateTaskResponse.Parser));
        AssertOneLine(e, TtrpcStatusCode.FailedPrecondition, id);
        Assert.Contains("/nope", e.Message, StringComparison.Ordinal);
        AssertNothingLeft(id);
        Assert.Empty(Agent.ZombieChildren());
        // The id is free again.
        var again = await Assert.ThrowsAsync<TtrpcException>(() => StateAsync(id));
        Assert.Equal(TtrpcStatusCode.NotFound, again.Code);
    }

    [Fact]
    public async Task An_unknown_container_id_is_NotFound_for_every_method()
    {
        const string id = "unknown-container";
        foreach (var call in new Func<Task>[]
        {
            () => StartAsync(id),
            () => WaitAsync(id),
            () => StateAsync(id),
            () => KillAsync(id, 9),
            () => DeleteAsync(id),
            () => Agent.CallAsync("Pids", new PidsRequest { Id = id }, PidsResponse.Parser),
            () => Agent.CallAsync("Stats", new StatsRequest { Id = id }, StatsResponse.Parser),
        })
        {
            AssertOneLine(await Assert.ThrowsAsync<TtrpcException>(call), TtrpcStatusCode.NotFound, id);
        }
    }

    [Fact]
    public async Task A_bad_id_is_InvalidArgument_naming_it()
    {
        foreach (var id in new[] { "../x", "a/b", "" })
        {
            var e = await Assert.ThrowsAsync<TtrpcException>(() => Agent.CallAsync("Create",
                new CreateTaskRequest { Id = id, Bundle = WorkDir }, CreateTaskResponse.Parser));
            AssertOneLine(e, TtrpcStatusCode.InvalidArgument, $"'{id}'");
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(Agent.RuncRoot));
    }

    [Fact]
    public async Task A_duplicate_id_is_AlreadyExists()
    {
        var (id, _, _, _) = await CreateAsync("dup", "sleep", "1000");
        var bundle = TestBundle.Create(WorkDir, id + "-2", ["true"]);
        var e = await Assert.ThrowsAsync<TtrpcException>(() => Agent.CallAsync("Create",
            new CreateTaskRequest { Id = id, Bundle = bundle }, CreateTaskResponse.Parser));
        AssertOneLine(e, TtrpcStatusCode.AlreadyExists, id);
        Assert.Equal(Isola.TaskApi.Protos.Types.Status.Created, (await StateAsync(id)).Status);
    }

    [Fact]
    public async Task A_terminal_is_refused()
    {
        var id = TestBundle.NewId("tty");
        var bundle = TestBundle.Create(WorkDir, id, ["true"]);
        var e = await Assert.ThrowsAsync<TtrpcException>(() => Agent.CallAsync("Create",
            new CreateTaskRequest { Id = id, Bundle = bundle, Terminal = true }, CreateTaskResponse.Parser));
        AssertOneLine(e, TtrpcStatusCode.Unimplemented, id);
        AssertNothingLeft(id);
    }

    [Fact]
    public async Task An_unsupported_stdio_url_is_refused_and_leaves_nothing()
    {
        var id = TestBundle.NewId("stdio");
        var bundle = TestBundle.Create(WorkDir, id, ["true"]);
        var e = await Assert.ThrowsAsync<TtrpcException>(() => Agent.CallAsync("Create",
            new CreateTaskRequest { Id = id, Bundle = bundle, Stdout = "binary:///bin/logger" }, CreateTaskResponse.Parser));
        AssertOneLine(e, TtrpcStatusCode.InvalidArgument, id);
        AssertNothingLeft(id);
    }

    private static void AssertOneLine(TtrpcException e, TtrpcStatusCode code, string mustContain)
    {
        Assert.Equal(code, e.Code);
        Assert.Contains(mustContain, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }
}
