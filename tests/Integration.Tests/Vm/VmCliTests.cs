using Isola.Integration.Tests.Scripting;
using Isola.TestSupport;

namespace Isola.Integration.Tests.Vm;

/// <summary>`isola container run|exec|logs|stop|rm` on a VM sandbox, each command its own CLI process (so each one
/// connects to the guest agent anew), behaving as on a shim sandbox.</summary>
[Collection(VmCollection.Name)]
public sealed class VmCliTests : IDisposable
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), "isola-vmcli-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly Dictionary<string, string?> _settings;

    public VmCliTests()
    {
        _settings = VmGuest.HostConfiguration(Path.Combine(_work, "root"), readiness: "agent");
        TestRootfs.Make(Path.Combine(_work, "rootfs"));
    }

    public void Dispose()
    {
        VmLeftovers.KillVmms(_work);
        VmLeftovers.UnmountUnder(_work);
        if (Directory.Exists(_work))
        {
            Directory.Delete(_work, recursive: true);
        }
    }

    private async Task<(int Code, string Out, string Err)> IsolaAsync(params string[] args)
    {
        using var isola = IsolaProcess.Start(_settings, Path.Combine(_work, "cache"), args);
        var code = await isola.WaitAsync(TimeSpan.FromMinutes(2));
        return (code, isola.Stdout, isola.Stderr);
    }

    [Fact]
    public async Task Container_commands_behave_on_a_vm_sandbox_as_on_a_shim_sandbox()
    {
        var rootfs = Path.Combine(_work, "rootfs");
        var run = await IsolaAsync("sandbox", "run", "--id", "vmcli", "--runtime", VmGuest.Runtime);
        var attached = await IsolaAsync("container", "run", "vmcli", "--rootfs", rootfs, "--id", "c1", "--", "sh", "-c", "echo out; echo err >&2; exit 3");
        var logs = await IsolaAsync("container", "logs", "vmcli", "c1");
        var detached = await IsolaAsync("container", "run", "vmcli", "--rootfs", rootfs, "--id", "svc", "-d", "--", "sleep", "600");
        var exec = await IsolaAsync("container", "exec", "vmcli", "svc", "--", "sh", "-c", "echo in-exec; exit 5");
        var ls = await IsolaAsync("-o", "json", "container", "ls", "vmcli");
        var stop = await IsolaAsync("container", "stop", "vmcli", "svc", "-t", "1");
        var inspect = await IsolaAsync("container", "inspect", "vmcli", "svc");
        var rmSvc = await IsolaAsync("container", "rm", "vmcli", "svc");
        var rmC1 = await IsolaAsync("container", "rm", "vmcli", "c1");
        var ghost = await IsolaAsync("container", "exec", "vmcli", "ghost", "--", "true");
        var rm = await IsolaAsync("sandbox", "rm", "vmcli");

        Assert.Equal((0, "vmcli\n"), (run.Code, run.Out));
        Assert.Equal((3, "out\n", "err\n"), attached);
        Assert.Equal((0, "out\n", "err\n"), logs);
        Assert.Equal((0, "svc\n"), (detached.Code, detached.Out));
        Assert.Equal((5, "in-exec\n"), (exec.Code, exec.Out));
        Assert.Contains("\"Running\"", ls.Out);
        Assert.Equal(0, stop.Code);
        Assert.Contains("137", inspect.Out);
        Assert.Equal((0, 0), (rmSvc.Code, rmC1.Code));
        Assert.Equal(1, ghost.Code);
        Assert.Equal("isola: container 'ghost' not found in sandbox 'vmcli'", ghost.Err.Trim());
        Assert.Equal((0, "vmcli\n"), (rm.Code, rm.Out));
        Assert.Empty(VmLeftovers.Of(Path.Combine(_work, "root"), "vmcli"));
    }
}
