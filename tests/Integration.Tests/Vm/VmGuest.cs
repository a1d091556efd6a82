using Isola.TestSupport;

namespace Isola.Integration.Tests.Vm;

/// <summary>The QEMU microvm runtime handler used by the VM integration tests, running the test guest that
/// scripts/guest/build-guest makes (Debian's kernel and a busybox initramfs) under TCG.</summary>
internal static class VmGuest
{
    public const string Runtime = "qemu-vm";

    /// <summary>Host configuration with the VM runtime; <paramref name="readiness"/> "agent" checks the guest over ttrpc
    /// (the test guest's stand-in answers on the virtio-serial port), "console-marker" waits for its console line.</summary>
    public static Dictionary<string, string?> HostConfiguration(string root, string readiness = "console-marker")
    {
        var dir = Environment.GetEnvironmentVariable("ISOLA_GUEST_DIR") ?? Path.Combine(RepoPaths.Root, "artifacts", "guest");
        var kernel = Path.Combine(dir, "vmlinux");
        var initrd = Path.Combine(dir, "initrd.gz");
        if (!File.Exists(kernel) || !File.Exists(initrd))
        {
            throw new InvalidOperationException($"the test guest is missing in {dir}: run scripts/guest/build-guest (scripts/setup does)");
        }

        if (!File.Exists("/usr/bin/qemu-system-x86_64"))
        {
            throw new InvalidOperationException("/usr/bin/qemu-system-x86_64 is missing: apt-get install qemu-system-x86");
        }

        const string options = $"Isola:Runtimes:{Runtime}:Options";
        return new Dictionary<string, string?>
        {
            ["Isola:Root"] = root,
            ["Isola:PluginsDir"] = PluginsDir(root),
            ["Isola:DefaultRuntime"] = Runtime,
            [$"Isola:Runtimes:{Runtime}:Controller"] = "vm",
            [$"{options}:Vmm"] = "qemu",
            [$"{options}:Binary"] = "/usr/bin/qemu-system-x86_64",
            [$"{options}:Kernel"] = kernel,
            [$"{options}:Initrd"] = initrd,
            [$"{options}:MemoryMiB"] = "256",
            [$"{options}:MachineType"] = "microvm",
            [$"{options}:KernelParams"] = "quiet",
            [$"{options}:Readiness"] = readiness,
            [$"{options}:AgentChannel"] = "serial",
            [$"{options}:HotplugSlots"] = "2",
            [$"{options}:ReadyTimeout"] = "00:01:00",
        };
    }

    /// <summary>The plugins the VM tests load: the vm controller and VMMs, and the Task API executor that reaches the
    /// guest agent.</summary>
    private static readonly string[] Plugins = ["Isola.Plugins.StratoVirt", "Isola.Plugins.TaskApi"];

    /// <summary>A plugins folder holding only <see cref="Plugins"/> (copied from the default plugins the build lays
    /// out), so these tests depend on no other plugin.</summary>
    private static string PluginsDir(string root)
    {
        var folder = root + "-plugins";
        foreach (var plugin in Plugins)
        {
            var source = Path.Combine(AppContext.BaseDirectory, "plugins", plugin);
            if (!Directory.Exists(source))
            {
                // The layout the plugin's own build writes.
                source = Path.Combine(RepoPaths.Root, "artifacts", "plugins", plugin);
            }

            if (!Directory.Exists(source))
            {
                throw new InvalidOperationException($"{source} is missing: build tests/Integration.Tests (it lays out the default plugins)");
            }

            var target = Path.Combine(folder, plugin);
            Directory.CreateDirectory(target);
            foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
            {
                var to = Path.Combine(target, Path.GetRelativePath(source, file));
                Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                File.Copy(file, to, overwrite: true);
            }
        }

        return folder;
    }
}
