using System.Diagnostics;
using Isola.Plugins.StratoVirt.Tests.Qmp;
using Isola.Plugins.StratoVirt.Vmm;
using Isola.Plugins.StratoVirt.Vmm.Processes;
using Isola.Vmm;

namespace Isola.Plugins.StratoVirt.Tests.Vmm;

/// <summary>
/// Tests of the `stratovirt` VM handle against the enforcing StratoVirt QMP double. The "VMM process" is a real
/// <c>sleep</c>, so exit watching and killing are real; the handle is attached as a restarted host would attach it.
/// </summary>
public abstract class AttachedVmTestBase : IAsyncLifetime
{
    private Process _process = null!;

    protected AttachedVmTestBase(string name)
    {
        Directory = TestPaths.NewTempDir(name);
    }

    /// <summary>The test's state directory, removed afterwards.</summary>
    protected string Directory { get; }

    /// <summary>The stand-in VMM process.</summary>
    protected Process VmmProcess => _process;

    /// <summary>Where the double's QMP socket goes.</summary>
    protected string QmpSocket => Path.Combine(Directory, "qmp.sock");

    public Task InitializeAsync()
    {
        _process = Process.Start(new ProcessStartInfo("sleep", "300"))!;
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        await _process.WaitForExitAsync();
        _process.Dispose();
        System.IO.Directory.Delete(Directory, true);
    }

    /// <summary>Attaches a `stratovirt` VM handle of <paramref name="machine"/> to <paramref name="server"/>.</summary>
    private protected async Task<IVmInstance> AttachAsync(StratoVirtQmpServer server, string id, string machine,
        IReadOnlyDictionary<string, string> extra) =>
        await new StratoVirtVmm().AttachAsync(new VmLaunchSpec
        {
            Id = id,
            StateDirectory = Directory,
            Binary = "/usr/bin/stratovirt",
            Kernel = "/none",
            MachineType = machine,
            Extra = extra,
        }, new Dictionary<string, string>
        {
            [RecoveryKeys.Vmm] = ProcessIdentity.Read(_process.Id)!.Value.ToString(),
            [RecoveryKeys.Qmp] = server.Path,
        }, CancellationToken.None);
}
