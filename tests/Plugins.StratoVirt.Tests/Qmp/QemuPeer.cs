using System.Diagnostics;
using System.Globalization;
using Isola.Plugins.StratoVirt.Vmm.Processes;

namespace Isola.Plugins.StratoVirt.Tests.Qmp;

/// <summary>A real QEMU with no guest (-S): microvm with PCIe and two root ports, daemonized with a pidfile and a QMP
/// socket, started without the plugin's launcher so that the QMP client is tested on its own.</summary>
internal sealed class QemuPeer : IAsyncDisposable
{
    private QemuPeer(string dir, ProcessIdentity process)
    {
        Directory = dir;
        Process = process;
    }

    public string Directory { get; }

    public ProcessIdentity Process { get; }

    public string QmpSocket => Path.Combine(Directory, "qmp.sock");

    public static async Task<QemuPeer> StartAsync()
    {
        var qemu = TestPaths.RequireQemu();
        var dir = TestPaths.NewTempDir("qemu");
        var psi = new ProcessStartInfo(qemu) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[]
                 {
                     "-machine", "microvm,pcie=on", "-accel", "tcg", "-nodefaults", "-no-user-config", "-display", "none", "-S", "-m", "128M",
                     "-device", "pcie-root-port,id=pcie.1,bus=pcie.0,chassis=1,port=0x1,addr=0x1",
                     "-device", "pcie-root-port,id=pcie.2,bus=pcie.0,chassis=2,port=0x2,addr=0x2",
                     "-qmp", $"unix:{Path.Combine(dir, "qmp.sock")},server=on,wait=off",
                     "-pidfile", Path.Combine(dir, "qemu.pid"), "-daemonize",
                 })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = System.Diagnostics.Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"qemu failed ({p.ExitCode}): {await err}");
        }

        var pid = int.Parse(File.ReadAllText(Path.Combine(dir, "qemu.pid")).Trim(), CultureInfo.InvariantCulture);
        return new QemuPeer(dir, ProcessIdentity.Read(pid) ?? throw new InvalidOperationException("qemu vanished"));
    }

    public async ValueTask DisposeAsync()
    {
        if (Process.IsAlive())
        {
            Native.LibC.Kill(Process.Pid, Native.LibC.SIGKILL);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await ProcessExitWatcher.WaitForExitAsync(Process, cts.Token);
        }

        System.IO.Directory.Delete(Directory, true);
    }
}
