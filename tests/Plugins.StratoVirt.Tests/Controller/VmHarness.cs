using System.Text;
using Isola.Controllers;
using Isola.Executors;
using Isola.Plugins;
using Isola.Plugins.StratoVirt.Controller;
using Isola.Plugins.StratoVirt.Vmm;
using Isola.TestSupport;
using Isola.Vmm;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Isola.Plugins.StratoVirt.Tests.Controller;

/// <summary>Builds `vm` controllers the way the host does (factory + options section + VMM lookup) and sandbox
/// contexts whose ControllerData survives "host restarts" (a new controller built from the same record).</summary>
internal sealed class VmHarness : IAsyncDisposable
{
    public const string RuntimeName = "qemu-vm";

    private readonly List<ISandboxController> _controllers = [];

    public VmHarness(string area)
    {
        Root = TestPaths.NewTempDir(area);
    }

    public string Root { get; }

    /// <summary>Options of a QEMU microvm running the test guest under TCG.</summary>
    public static Dictionary<string, string?> GuestOptions(string readiness = "console-marker")
    {
        var (kernel, initrd) = TestPaths.Guest();
        return new Dictionary<string, string?>
        {
            ["Vmm"] = "qemu",
            ["Binary"] = TestPaths.RequireQemu(),
            ["Kernel"] = kernel,
            ["Initrd"] = initrd,
            ["Vcpus"] = "1",
            ["MemoryMiB"] = "256",
            ["MachineType"] = "microvm",
            ["KernelParams"] = "quiet",
            ["Readiness"] = readiness,
            ["AgentChannel"] = "serial",
            ["HotplugSlots"] = "2",
            ["ReadyTimeout"] = "00:01:00",
            ["UnplugTimeout"] = "00:00:20",
        };
    }

    public ISandboxController CreateController(Dictionary<string, string?> options)
    {
        var section = new ConfigurationBuilder().AddInMemoryCollection(options).Build();
        var context = new ControllerContext(RuntimeName, section, $"Isola:Runtimes:{RuntimeName}:Options", Root,
            NullLoggerFactory.Instance, new Services());
        var controller = new VmControllerFactory().Create(context);
        _controllers.Add(controller);
        return controller;
    }

    public SandboxContext NewSandbox(string id)
    {
        var dir = Path.Combine(Root, id);
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return new SandboxContext(id, id, new SandboxSpec { Id = id }, dir, new Dictionary<string, string>());
    }

    /// <summary>What a restarted host hands the controller: the same record, a new object.</summary>
    public static SandboxContext Reload(SandboxContext old) =>
        new(old.Id, old.Name, old.Spec, old.StateDirectory, new Dictionary<string, string>(old.ControllerData))
        {
            TaskAddress = old.TaskAddress,
            TaskApiVersion = old.TaskApiVersion,
        };

    /// <summary>Waits until the guest console holds <paramref name="text"/>.</summary>
    public static async Task<string> WaitForConsoleAsync(SandboxContext sandbox, string text, TimeSpan timeout)
    {
        var path = Path.Combine(sandbox.StateDirectory, "console.log");
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            var console = File.Exists(path) ? Encoding.UTF8.GetString(await File.ReadAllBytesAsync(path)) : "";
            if (console.Contains(text, StringComparison.Ordinal))
            {
                return console;
            }

            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"'{text}' did not appear on the guest console within {timeout}: {console[Math.Max(0, console.Length - 800)..]}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Live processes whose command line mentions <paramref name="path"/> (a VMM or virtiofs daemon of a
    /// sandbox names its state directory).</summary>
    public static IReadOnlyList<string> ProcessesUsing(string path)
    {
        var found = new List<string>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains(path, StringComparison.Ordinal) && Processes.IsRunning(pid))
                {
                    found.Add($"{pid}: {cmdline}");
                }
            }
            catch (IOException)
            {
                // Exited while we looked.
            }
        }

        return found;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails naming <paramref name="what"/> after the deadline.</summary>
    public static async Task UntilAsync(Func<bool> condition, TimeSpan deadline, string what)
    {
        var until = DateTime.UtcNow + deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"waited {deadline.TotalSeconds:0.#} s for {what}");
            }

            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var c in _controllers.OfType<IAsyncDisposable>())
        {
            await c.DisposeAsync();
        }

        // A failed test may leave its VM running: kill it by its pidfile.
        foreach (var pidFile in Directory.GetFiles(Root, "vmm.pid", SearchOption.AllDirectories))
        {
            if (int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid) && File.ReadAllText($"/proc/{pid}/cmdline").Contains(Root, StringComparison.Ordinal))
            {
                Native.LibC.Kill(pid, Native.LibC.SIGKILL);
            }
        }

        // Unmount anything a failed test left under the root, then remove it.
        foreach (var line in File.ReadAllLines("/proc/self/mountinfo").Reverse())
        {
            var mountPoint = line.Split(' ')[4];
            if (mountPoint.StartsWith(Root, StringComparison.Ordinal))
            {
                Native.LibC.Umount2(mountPoint, Native.LibC.MNT_DETACH);
            }
        }

        Directory.Delete(Root, true);
    }

    private sealed class Services : IPluginServices
    {
        public IVmm GetVmm(string name) => name switch
        {
            QemuVmm.VmmName => new QemuVmm(),
            StratoVirtVmm.VmmName => new StratoVirtVmm(),
            _ => throw IsolaException.NotFound($"no VMM '{name}' (known: qemu, stratovirt)"),
        };

        public ITaskExecutor GetExecutor(string scheme) => throw IsolaException.NotFound($"no executor for '{scheme}'");
    }
}
