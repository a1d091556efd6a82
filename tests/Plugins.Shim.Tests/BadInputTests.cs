using Isola.Controllers;
using Isola.Plugins.Shim.Controller;
using Isola.Plugins.Shim.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Plugins.Shim.Tests;

/// <summary>Bad options and bad input: one-line errors naming the key, id or path, and nothing left behind.</summary>
[Collection(ShimCollection.Name)]
public sealed class BadInputTests(RootfsFixture rootfs) : IAsyncLifetime
{
    private readonly PodHarness _pods = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _pods.DisposeAsync();

    [Theory]
    [InlineData("Runtime", "kata", "Isola:Runtimes:x:Options:Runtime")]
    [InlineData("CgroupParent", "relative/path", "Isola:Runtimes:x:Options:CgroupParent")]
    [InlineData("CgroupParent", "/a/../b", "Isola:Runtimes:x:Options:CgroupParent")]
    [InlineData("Namespace", "bad ns", "Isola:Runtimes:x:Options:Namespace")]
    [InlineData("PauseBinary", "/no/such/pause", "Isola:Runtimes:x:Options:PauseBinary")]
    [InlineData("ServeEvents", "maybe", "Isola:Runtimes:x:Options:ServeEvents")]
    [InlineData("Vcpus", "2", "Isola:Runtimes:x:Options:Vcpus")]
    public void Invalid_options_fail_naming_the_key(string key, string value, string named)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();

        var e = Assert.Throws<IsolaException>(() => new ShimControllerFactory().Create(new ControllerContext("x", config,
            "Isola:Runtimes:x:Options", _pods.StateRoot, NullLoggerFactory.Instance, null!)));

        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.StartsWith(named + ":", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task Missing_shim_binary_fails_start_naming_it_and_shutdown_leaves_nothing()
    {
        await using var pods = new PodHarness(new Dictionary<string, string?> { ["ShimBinary"] = "/opt/nowhere/containerd-shim-runc-v2" });
        var sandbox = pods.NewContext();
        await pods.Controller.CreateAsync(sandbox, CancellationToken.None);

        var e = await Assert.ThrowsAsync<IsolaException>(() => pods.Controller.StartAsync(sandbox, CancellationToken.None));
        await pods.Controller.ShutdownAsync(sandbox, CancellationToken.None);

        Assert.Equal(IsolaErrorCode.Unavailable, e.Code);
        Assert.Contains("/opt/nowhere/containerd-shim-runc-v2", e.Message);
        Assert.Contains("install containerd", e.Message);
        Assert.Empty(Leftovers.Of(sandbox, [], null));
    }

    [Fact]
    public async Task A_valid_64_character_name_runs_with_a_hostname_derived_from_it()
    {
        // The longest valid id, with an '_' that no hostname may hold.
        var id = "sb_" + new string('x', IdValidator.MaxLength - 6) + Guid.NewGuid().ToString("N")[..3];
        Assert.True(IdValidator.IsValid(id));

        var sandbox = await _pods.RunSandboxAsync(new SandboxSpec { Id = id });

        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(sandbox.ControllerData["shim.bundle"], "config.json")))!;
        Assert.Equal(("sb-" + id[3..])[..63], (string?)config["hostname"]);
        Assert.True((await _pods.Controller.StatusAsync(sandbox, false, CancellationToken.None)).Ready);
    }

    [Fact]
    public async Task An_explicit_invalid_hostname_is_refused_naming_it_and_writes_nothing()
    {
        var hostname = new string('h', 64);
        var sandbox = _pods.NewContext(spec: new SandboxSpec { Hostname = hostname });

        var e = await Assert.ThrowsAsync<IsolaException>(() => _pods.Controller.CreateAsync(sandbox, CancellationToken.None));

        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains(sandbox.Id.Value, e.Message);
        Assert.Contains($"'{hostname}'", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(sandbox.StateDirectory));
    }

    [Fact]
    public async Task Failing_shim_start_reports_the_first_line_of_its_stderr()
    {
        var dir = Path.Combine(_pods.StateRoot, "bin");
        Directory.CreateDirectory(dir);
        var failing = Path.Combine(dir, "failing-shim");
        File.WriteAllText(failing, "#!/bin/sh\necho 'first: the reason' >&2\necho 'second: context' >&2\nexit 3\n");
        File.SetUnixFileMode(failing, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await using var pods = new PodHarness(new Dictionary<string, string?> { ["ShimBinary"] = failing });
        var sandbox = pods.NewContext();
        await pods.Controller.CreateAsync(sandbox, CancellationToken.None);

        var e = await Assert.ThrowsAsync<IsolaException>(() => pods.Controller.StartAsync(sandbox, CancellationToken.None));
        await pods.Controller.ShutdownAsync(sandbox, CancellationToken.None);

        Assert.EndsWith("start exited with 3: first: the reason", e.Message);
        Assert.Contains(sandbox.Id.Value, e.Message);
        Assert.Empty(Leftovers.Of(sandbox, [], null));
    }

    [Fact]
    public async Task Missing_network_namespace_path_fails_create_and_writes_nothing()
    {
        var sandbox = _pods.NewContext(spec: new SandboxSpec { Network = "/run/netns/does-not-exist" });

        var e = await Assert.ThrowsAsync<IsolaException>(() => _pods.Controller.CreateAsync(sandbox, CancellationToken.None));

        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains(sandbox.Id.Value, e.Message);
        Assert.Contains("/run/netns/does-not-exist", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(sandbox.StateDirectory));
    }

    [Fact]
    public async Task Missing_rootfs_fails_prepare_naming_it_and_the_pod_keeps_running()
    {
        var sandbox = await _pods.RunSandboxAsync();
        var missing = Path.Combine(rootfs.Dir, "..", "no-such-rootfs-" + Guid.NewGuid().ToString("N")[..6]);

        var e = await Assert.ThrowsAsync<IsolaException>(() => _pods.Controller.PrepareAsync(sandbox, new PrepareRequest
        {
            ContainerId = "c1",
            Container = new ContainerSpec { Rootfs = missing, Args = ["true"] },
            OciSpec = ContainerSpecs.Oci(sandbox.Id.Value, ["true"]),
            Stdio = new StdioSpec("", "", ""),
        }, CancellationToken.None));
        var status = await _pods.Controller.StatusAsync(sandbox, false, CancellationToken.None);

        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains(missing, e.Message);
        Assert.Contains("'c1'", e.Message);
        Assert.False(Directory.Exists(Path.Combine(sandbox.StateDirectory, "bundles", "c1")));
        Assert.True(status.Ready);
        await _pods.TeardownAsync(sandbox);
    }

    [Fact]
    public async Task Invalid_container_id_is_refused()
    {
        // A malformed spec can no longer reach Prepare: it is an object, parsed (and refused) where it entered as text.
        var sandbox = _pods.NewContext();
        sandbox.ControllerData[ControllerDataKeys.PausePid] = "1";

        var badId = await Assert.ThrowsAsync<IsolaException>(() => _pods.Controller.PrepareAsync(sandbox, new PrepareRequest
        {
            ContainerId = "../escape",
            Container = new ContainerSpec { Rootfs = rootfs.Dir, Args = ["true"] },
            OciSpec = [],
            Stdio = new StdioSpec("", "", ""),
        }, CancellationToken.None));

        Assert.Equal(IsolaErrorCode.InvalidArgument, badId.Code);
        Assert.Contains("../escape", badId.Message);
        Assert.Empty(Directory.GetFileSystemEntries(sandbox.StateDirectory));
    }

    [Fact]
    public async Task Operations_on_a_sandbox_never_started_are_clear_and_teardown_is_a_no_op()
    {
        var sandbox = _pods.NewContext();
        await _pods.Controller.CreateAsync(sandbox, CancellationToken.None);

        var wait = await Assert.ThrowsAsync<IsolaException>(() => _pods.Controller.WaitAsync(sandbox, CancellationToken.None));
        var status = await _pods.Controller.StatusAsync(sandbox, false, CancellationToken.None);
        await _pods.Controller.StopAsync(sandbox, TimeSpan.FromSeconds(1), CancellationToken.None);
        await _pods.Controller.ShutdownAsync(sandbox, CancellationToken.None);
        var gone = await Assert.ThrowsAsync<IsolaException>(() => _pods.Controller.StatusAsync(sandbox, false, CancellationToken.None));

        Assert.Equal(IsolaErrorCode.FailedPrecondition, wait.Code);
        Assert.Contains(sandbox.Id.Value, wait.Message);
        Assert.False(status.Ready);
        Assert.Equal(IsolaErrorCode.NotFound, gone.Code);
        Assert.Empty(Leftovers.Of(sandbox, [], null));
    }
}
