using Google.Protobuf;
using Isola.Executors;
using Isola.Plugins.TaskApi.Tests.Infrastructure;
using Isola.TaskApi.Protos.Runc;
using Isola.TestSupport;

namespace Isola.Plugins.TaskApi.Tests;

/// <summary>
/// Task Create sends the runtime options it is given, which the host takes from the controller's Prepare, and nothing
/// else: no file in the bundle is read back. The runc shim records the options it got in the bundle itself
/// (<c>runtime</c>: the OCI runtime binary it runs), which is what these tests look at.
/// </summary>
[Collection(RealShimCollection.Name)]
public sealed class RuntimeOptionsTests(RootfsFixture rootfs) : IAsyncLifetime
{
    private const string RuncOptionsTypeUrl = "containerd.runc.v1.Options";
    private readonly ShimPods _pods = new();
    private Controllers.SandboxContext _sandbox = null!;

    public async Task InitializeAsync() => _sandbox = await _pods.RunSandboxAsync();

    public async Task DisposeAsync() => await _pods.DisposeAsync();

    [Fact]
    public async Task The_options_Prepare_returns_reach_the_shim_with_Create_and_no_options_file_is_left_for_them()
    {
        await using var client = await _pods.TaskClientAsync(_sandbox);
        var (id, prepared) = await _pods.PrepareAsync(_sandbox, rootfs.Dir, ["true"]);
        var optionsFileAfterPrepare = File.Exists(Path.Combine(prepared.Bundle, "options.json"));
        var runc = Peers.Which("runc")!;

        // A full path rather than the shim's default "runc", so the shim can only have it from this Create.
        await client.CreateAsync(new TaskCreateRequest
        {
            Id = id,
            Bundle = prepared.Bundle,
            Stdio = new StdioSpec("", "", ""),
            Options = (RuncOptionsTypeUrl, new Options { BinaryName = runc }.ToByteArray()),
        }, CancellationToken.None);
        var exit = await RunAsync(client, id);

        var fromPrepare = Assert.NotNull(prepared.Options);
        Assert.Equal(RuncOptionsTypeUrl, fromPrepare.TypeUrl);
        Assert.Equal("runc", Options.Parser.ParseFrom(fromPrepare.Value).BinaryName); // the pod's runtime, by default runc
        Assert.False(optionsFileAfterPrepare, "Prepare wrote options.json: the options travel in PrepareResult.Options");
        Assert.Equal(runc, (await File.ReadAllTextAsync(Path.Combine(prepared.Bundle, "runtime"))).Trim());
        Assert.Equal(0u, exit);
    }

    [Fact]
    public async Task Create_without_options_reads_none_from_the_bundle()
    {
        await using var client = await _pods.TaskClientAsync(_sandbox);
        var (id, prepared) = await _pods.PrepareAsync(_sandbox, rootfs.Dir, ["true"]);
        // What an older Isola left in a bundle: had the executor read it back, the shim would run a missing binary.
        await File.WriteAllTextAsync(Path.Combine(prepared.Bundle, "options.json"),
            JsonFormatter.Default.Format(new Options { BinaryName = "/nonexistent/oci-runtime" }));

        await client.CreateAsync(new TaskCreateRequest { Id = id, Bundle = prepared.Bundle, Stdio = new StdioSpec("", "", "") },
            CancellationToken.None);
        var exit = await RunAsync(client, id);

        Assert.Equal("", (await File.ReadAllTextAsync(Path.Combine(prepared.Bundle, "runtime"))).Trim()); // the shim's default
        Assert.Equal(0u, exit);
    }

    private static async Task<uint> RunAsync(ITaskClient client, string id)
    {
        await client.StartAsync(id, null, CancellationToken.None);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var exit = await client.WaitAsync(id, null, deadline.Token);
        await client.DeleteAsync(id, null, CancellationToken.None);
        return exit.Code;
    }
}
