using System.Net.Sockets;
using Grpc.Core;
using Isola.SandboxApi.V1;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Server.Tests;

/// <summary>Who may reach `isola serve`, and what it does with the socket path.</summary>
public sealed class ServeSocketTests
{
    [Fact]
    public async Task The_socket_is_0600_and_a_second_server_on_it_is_refused()
    {
        await using var f = await ServeFixture.StartAsync();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f.Server.SocketPath));
        var e = await Assert.ThrowsAsync<IsolaException>(() => SandboxApiServer.StartAsync(f.Host,
            new SandboxApiServerOptions { SocketPath = f.Server.SocketPath, BundleRoot = f.BundleRoot }, NullLoggerFactory.Instance));
        Assert.Equal(IsolaErrorCode.AlreadyExists, e.Code);
        Assert.Contains(f.Server.SocketPath, e.Message);
        // The first server still answers.
        await f.Client.MetricsAsync(new ControllerMetricsRequest { SandboxId = "none" }).ResponseAsync
            .ContinueWith(t => Assert.Equal(StatusCode.NotFound, ((RpcException)t.Exception!.InnerException!).StatusCode));
    }

    [Fact]
    public async Task A_stale_socket_file_is_replaced_but_a_regular_file_is_not_touched()
    {
        var dir = Path.Combine(Path.GetTempPath(), "isola-serve-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        try
        {
            var stale = Path.Combine(dir, "stale.sock");
            using (var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                s.Bind(new UnixDomainSocketEndPoint(stale));
            }

            await using var f = await ServeFixture.StartAsync();
            await using (var server = await SandboxApiServer.StartAsync(f.Host,
                             new SandboxApiServerOptions { SocketPath = stale, BundleRoot = f.BundleRoot }, NullLoggerFactory.Instance))
            {
                Assert.True(File.Exists(stale));
            }

            Assert.False(File.Exists(stale));
            var regular = Path.Combine(dir, "data.txt");
            await File.WriteAllTextAsync(regular, "keep me");
            var e = await Assert.ThrowsAsync<IsolaException>(() => SandboxApiServer.StartAsync(f.Host,
                new SandboxApiServerOptions { SocketPath = regular, BundleRoot = f.BundleRoot }, NullLoggerFactory.Instance));
            Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
            Assert.Equal("keep me", await File.ReadAllTextAsync(regular));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("empty file")]
    [InlineData("directory")]
    [InlineData("symlink to a stale socket")]
    [InlineData("fifo")]
    public async Task Only_a_stale_socket_is_ever_removed(string what)
    {
        await using var f = await ServeFixture.StartAsync();
        var path = Path.Combine(f.Directory, "api-" + what.Replace(' ', '-'));
        var stale = Path.Combine(f.Directory, "stale.sock");
        using var bound = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        switch (what)
        {
            case "empty file":
                File.WriteAllBytes(path, []);
                break;
            case "directory":
                Directory.CreateDirectory(path);
                break;
            case "fifo":
                Assert.Equal(0, Mkfifo(path, 0x180));
                break;
            default:
                // Bound, never listening, kept open (disposing it would unlink the file): a stale socket.
                bound.Bind(new UnixDomainSocketEndPoint(stale));
                File.CreateSymbolicLink(path, stale);
                break;
        }

        var e = await Assert.ThrowsAsync<IsolaException>(() => SandboxApiServer.StartAsync(f.Host,
            new SandboxApiServerOptions { SocketPath = path, BundleRoot = f.BundleRoot }, NullLoggerFactory.Instance));

        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains($"'{path}'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.True(Path.Exists(path), $"the {what} was removed");
        Assert.Equal(what == "directory", Directory.Exists(path));
        if (what == "symlink to a stale socket")
        {
            Assert.True(File.Exists(stale), "the symlink's target was removed");
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int Mkfifo(string path, uint mode);

    [Fact]
    public async Task A_peer_whose_uid_is_not_allowed_is_disconnected_before_any_call()
    {
        // The test runs as root (uid 0); allow only another uid.
        await using var f = await ServeFixture.StartAsync(allowedUids: [65534]);

        var e = await Assert.ThrowsAsync<RpcException>(() =>
            f.Client.CreateAsync(new ControllerCreateRequest { SandboxId = "sv-refused" }).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Empty(await f.Host.Sandboxes.ListAsync());
    }

    [Fact]
    public async Task An_unknown_default_runtime_is_refused_before_the_socket_is_created()
    {
        await using var f = await ServeFixture.StartAsync();
        var socket = Path.Combine(f.Directory, "other.sock");

        var e = await Assert.ThrowsAsync<IsolaException>(() => SandboxApiServer.StartAsync(f.Host,
            new SandboxApiServerOptions { SocketPath = socket, BundleRoot = f.BundleRoot, DefaultRuntime = "nope" }, NullLoggerFactory.Instance));

        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains("nope", e.Message);
        Assert.Contains("kuasar", e.Message);
        Assert.False(File.Exists(socket));
    }
}
