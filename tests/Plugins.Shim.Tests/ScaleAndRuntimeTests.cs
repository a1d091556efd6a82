using Isola.Plugins.Shim.Tests.Infrastructure;
using Isola.TestSupport;

namespace Isola.Plugins.Shim.Tests;

/// <summary>Many pods at once, and the crun OCI runtime.</summary>
[Collection(ShimCollection.Name)]
public sealed class ScaleAndRuntimeTests(RootfsFixture rootfs)
{
    [Fact]
    public async Task Twenty_sandboxes_started_concurrently_each_with_a_container_are_all_cleaned_up()
    {
        await using var pods = new PodHarness();
        var sandboxes = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => pods.RunSandboxAsync()));
        var containers = await Task.WhenAll(sandboxes.Select(async sandbox =>
        {
            await using var client = await pods.TaskClientAsync(sandbox);
            var (id, stdout, _) = await pods.CreateContainerAsync(client, sandbox, rootfs.Dir, ["sh", "-c", "hostname; sleep 600"]);
            await client.StartAsync(id, null, CancellationToken.None);
            return (Sandbox: sandbox, Id: id, Stdout: stdout);
        }));
        var sockets = sandboxes.Select(s => Leftovers.SocketOf(s.TaskAddress)).ToList();

        await Task.WhenAll(sandboxes.Select(pods.TeardownAsync));

        Assert.Equal(20, sockets.Distinct().Count()); // one shim per pod
        Assert.All(containers, c => Assert.Equal(c.Sandbox.Id + "\n", File.ReadAllText(c.Stdout)));
        Assert.All(containers, c => Assert.Empty(Leftovers.Of(c.Sandbox, [c.Id], Leftovers.SocketOf(c.Sandbox.TaskAddress))));
    }

    [Fact]
    public async Task Containers_created_through_the_executor_run_under_the_pods_OCI_runtime()
    {
        var runc = Peers.Which("runc")!;
        await using var pods = new PodHarness(new Dictionary<string, string?> { ["Runtime"] = runc });
        var sandbox = await pods.RunSandboxAsync();
        await using var client = await pods.TaskClientAsync(sandbox);

        // Prepare returns the pod's runtime options and Create carries them (PrepareResult.Options, as the host hands
        // them on); nothing is left in the bundle for the executor to read back.
        var (id, _, _) = await pods.CreateContainerAsync(client, sandbox, rootfs.Dir, ["true"]);
        var bundle = Path.Combine(sandbox.StateDirectory, "bundles", id);
        var recorded = await File.ReadAllTextAsync(Path.Combine(bundle, "runtime"));
        var pauseBundle = sandbox.ControllerData[Controller.ControllerDataKeys.Bundle];
        var pauseRecorded = await File.ReadAllTextAsync(Path.Combine(pauseBundle, "runtime"));
        await PodHarness.StartAndWaitAsync(client, id);
        await client.DeleteAsync(id, null, CancellationToken.None);
        await pods.TeardownAsync(sandbox);

        Assert.Equal(runc, recorded.Trim()); // not the shim's default "runc"
        Assert.Equal(runc, pauseRecorded.Trim()); // the pause runs under the pod's runtime too
    }

    [Fact]
    public async Task Crun_is_the_OCI_runtime_the_shim_runs_when_selected()
    {
        if (Peers.Which("crun") is null)
        {
            Assert.Fail("crun is missing: install the Debian package crun (scripts/setup does)");
        }

        await using var pods = new PodHarness(new Dictionary<string, string?> { ["Runtime"] = "crun" });
        var sandbox = pods.NewContext();
        await pods.Controller.CreateAsync(sandbox, CancellationToken.None);
        IsolaException? refused = null;
        (uint Exit, string Output) ran = default;
        try
        {
            var started = await pods.Controller.StartAsync(sandbox, CancellationToken.None);
            sandbox.TaskAddress = started.TaskAddress;
            sandbox.TaskApiVersion = started.TaskApiVersion;
            await using var client = await pods.TaskClientAsync(sandbox);
            ran = await pods.RunToExitAsync(client, sandbox, rootfs.Dir, "sh", "-c", "echo via-crun; exit 4");
        }
        catch (IsolaException e)
        {
            refused = e;
        }

        var runtime = await File.ReadAllTextAsync(Path.Combine(sandbox.ControllerData[Controller.ControllerDataKeys.Bundle], "runtime"));
        var socket = sandbox.ControllerData.TryGetValue(Controller.ControllerDataKeys.Address, out var a) ? Leftovers.SocketOf(a) : null;
        await pods.TeardownAsync(sandbox);

        Assert.Equal("crun", runtime.Trim()); // the shim recorded the OCI runtime it was told to use
        if (refused is null)
        {
            Assert.Equal((4u, "via-crun\n"), ran);
        }
        else
        {
            // crun 1.8 refuses hybrid cgroup machines whose v2 hierarchy holds a controller (this CI VM binds hugetlb
            // there); the refusal must then be crun's own, which proves crun, not runc, was run.
            Assert.Contains("cgroups in hybrid mode not supported", refused.Message);
            Assert.Contains("hugetlb", await File.ReadAllTextAsync("/sys/fs/cgroup/unified/cgroup.controllers"));
        }

        Assert.Empty(Leftovers.Of(sandbox, [], socket));
    }
}
