using System.Runtime.InteropServices;
using Isola.Agent.Native;
using Isola.Ttrpc.Server;
using Microsoft.Extensions.Logging;

namespace Isola.Agent.Guest;

/// <summary>
/// Serves ttrpc on AF_VSOCK port 1024 (the port Kuasar's vmm-task uses) when the VM has a vsock device, beside the
/// virtio-serial port. .NET's socket layer rejects unknown address families, so the socket is made and accepted with
/// libc and each connection is served through <see cref="FdStream"/>.
/// </summary>
internal sealed class VsockListener : IDisposable
{
    public const uint AgentPort = 1024;

    private readonly TtrpcServer _server;
    private readonly ILogger _logger;
    private readonly int _fd;
    private readonly ManualResetEventSlim _stopped = new();
    private volatile bool _stopping;

    private VsockListener(int fd, TtrpcServer server, ILogger logger)
    {
        _fd = fd;
        _server = server;
        _logger = logger;
    }

    /// <summary>True when the VM has a virtio vsock device bound to its driver. The socket family alone says nothing:
    /// with the vsock module loaded, binding succeeds in a VM that has no vsock device at all.</summary>
    public static bool DevicePresent(string sysRoot = "/sys")
    {
        var driver = Path.Combine(sysRoot, "bus", "virtio", "drivers", "vmw_vsock_virtio_transport");
        return Directory.Exists(driver) && Directory.EnumerateFileSystemEntries(driver, "virtio*").Any();
    }

    /// <summary>Starts listening on <paramref name="port"/> for any CID; null (logged) when this kernel has no vsock.</summary>
    public static unsafe VsockListener? TryStart(TtrpcServer server, ILogger logger, uint port = AgentPort)
    {
        var fd = LibC.socket(LibC.AF_VSOCK, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            logger.LogInformation("no vsock in this VM ({Error}): serving the virtio-serial port only", LibC.LastError());
            return null;
        }

        var address = new LibC.SockaddrVm { Family = LibC.AF_VSOCK, Port = port, Cid = LibC.VMADDR_CID_ANY };
        if (LibC.bind(fd, &address, sizeof(LibC.SockaddrVm)) != 0 || LibC.listen(fd, 16) != 0)
        {
            logger.LogWarning("cannot listen on vsock port {Port}: {Error}", port, LibC.LastError());
            LibC.close(fd);
            return null;
        }

        var listener = new VsockListener(fd, server, logger);
        new Thread(listener.AcceptLoop) { IsBackground = true, Name = "vsock-accept" }.Start();
        logger.LogInformation("serving the Task API on vsock port {Port}", port);
        return listener;
    }

    // Polls rather than blocking in accept: close(2) does not wake a thread blocked in accept on the same socket, and
    // the socket would stay bound until it returned. The loop itself closes the socket when it sees Dispose.
    private unsafe void AcceptLoop()
    {
        var listening = _fd;
        while (!_stopping)
        {
            var poll = new LibC.PollFd { Fd = listening, Events = LibC.POLLIN };
            if (LibC.poll(&poll, 1, 200) <= 0)
            {
                continue;
            }

            var client = LibC.accept4(listening, null, null, LibC.SOCK_CLOEXEC);
            if (client >= 0)
            {
                _ = ServeAsync(client);
            }
            else if (Marshal.GetLastPInvokeError() != LibC.EINTR)
            {
                _logger.LogWarning("vsock accept: {Error}", LibC.LastError());
                Thread.Sleep(100);
            }
        }

        LibC.close(listening);
        _stopped.Set();
    }

    private async Task ServeAsync(int client)
    {
        try
        {
            await _server.ServeAsync(new FdStream(client), "vsock").ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            _logger.LogInformation("vsock connection ended: {Error}", e.Message);
        }
    }

    /// <summary>Stops accepting and releases the port (within the loop's poll interval); connections being served go on.</summary>
    public void Dispose()
    {
        _stopping = true;
        _stopped.Wait(TimeSpan.FromSeconds(2));
    }
}
