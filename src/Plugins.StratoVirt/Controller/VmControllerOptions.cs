using System.Globalization;
using Isola.Plugins.StratoVirt.Vmm;
using Microsoft.Extensions.Configuration;

namespace Isola.Plugins.StratoVirt.Controller;

/// <summary>When a started VM counts as ready.</summary>
internal enum Readiness
{
    /// <summary>The guest agent (Kuasar's vmm-task) answers grpc.SandboxService/Check over ttrpc.</summary>
    Agent,

    /// <summary>A marker line appears on the guest console (a guest without an agent).</summary>
    ConsoleMarker,

    /// <summary>The VMM's QMP socket answers; nothing is asked of the guest.</summary>
    None,
}

/// <summary>
/// A <c>vm</c> runtime handler's options (<c>Isola:Runtimes:&lt;name&gt;:Options</c>), parsed and validated when the
/// host starts: a bad value fails naming its key. File existence is checked at Create, so a handler for a VMM that
/// is not installed does not stop the host from starting.
/// </summary>
internal sealed record VmControllerOptions
{
    public required string ConfigPath { get; init; }

    public string Vmm { get; init; } = StratoVirtVmm.VmmName;

    public required string Binary { get; init; }

    public required string Kernel { get; init; }

    public string? Initrd { get; init; }

    public string? Image { get; init; }

    public int Vcpus { get; init; } = 1;

    public int MemoryMiB { get; init; } = 512;

    public string MachineType { get; init; } = "microvm";

    public string KernelParams { get; init; } = "";

    public Readiness Readiness { get; init; } = Readiness.Agent;

    public string ReadinessMarker { get; init; } = "ISOLA-GUEST-READY";

    /// <summary>null = vsock when /dev/vhost-vsock exists, else serial.</summary>
    public AgentChannel? AgentChannel { get; init; }

    public uint AgentPort { get; init; } = 1024;

    /// <summary>Scheme of a vsock task address: "ttrpc+vsock" (containerd 2.x, Kuasar ≥ 1.0) or "vsock" (iSulad).</summary>
    public string VsockAddressScheme { get; init; } = "ttrpc+vsock";

    public uint TaskApiVersion { get; init; } = 2;

    /// <summary>Share a directory with the guest through virtiofs (container bundles and directory rootfs).</summary>
    public bool SharedFs { get; init; } = true;

    public required string VirtiofsDaemon { get; init; }

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>VMM-specific settings passed through as <see cref="Isola.Vmm.VmLaunchSpec.Extra"/>.</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();

    private static readonly string[] ExtraKeys =
    [
        VmSettings.AccelKey, VmSettings.HotplugSlotsKey, VmSettings.DebugKey, VmSettings.FirmwareKey,
        VmSettings.DisableSeccompKey, VmSettings.BlockDriverKey, VmSettings.VirtiofsArgsKey, VmSettings.UnplugTimeoutKey,
        VmSettings.QmpTimeoutKey,
    ];

    private static readonly HashSet<string> KnownKeys = new(
    [
        "Vmm", "Binary", "Kernel", "Initrd", "Image", "Vcpus", "MemoryMiB", "MachineType", "KernelParams", "Readiness",
        "ReadinessMarker", "AgentChannel", "AgentPort", "VsockAddressScheme", "TaskApiVersion", "SharedFs",
        "VirtiofsDaemon", "StartTimeout", "ReadyTimeout", .. ExtraKeys,
    ], StringComparer.OrdinalIgnoreCase);

    public static VmControllerOptions Parse(IConfiguration section, string configPath)
    {
        foreach (var child in section.GetChildren())
        {
            if (!KnownKeys.Contains(child.Key))
            {
                throw IsolaException.InvalidArgument($"{configPath}:{child.Key}: unknown option (known: {string.Join(", ", KnownKeys.Order())})");
            }
        }

        string Key(string k) => $"{configPath}:{k}";
        string? Get(string k) => string.IsNullOrWhiteSpace(section[k]) ? null : section[k]!.Trim();

        var vmm = (Get("Vmm") ?? StratoVirtVmm.VmmName).ToLowerInvariant();
        var kernel = Get("Kernel") ?? throw IsolaException.InvalidArgument($"{Key("Kernel")}: required (the guest kernel, an uncompressed vmlinux)");
        var extra = new Dictionary<string, string>();
        foreach (var k in ExtraKeys)
        {
            if (Get(k) is { } v)
            {
                extra[k] = v;
            }
        }

        var options = new VmControllerOptions
        {
            ConfigPath = configPath,
            Vmm = vmm,
            Binary = Get("Binary") is { } bin ? AbsolutePath(Key("Binary"), bin) : (vmm == QemuVmm.VmmName ? "/usr/bin/qemu-system-x86_64" : "/usr/bin/stratovirt"),
            Kernel = AbsolutePath(Key("Kernel"), kernel),
            Initrd = Get("Initrd") is { } i ? AbsolutePath(Key("Initrd"), i) : null,
            Image = Get("Image") is { } img ? AbsolutePath(Key("Image"), img) : null,
            Vcpus = Int(Key("Vcpus"), Get("Vcpus"), 1, 1, 255),
            MemoryMiB = Int(Key("MemoryMiB"), Get("MemoryMiB"), 512, 64, 1 << 20),
            MachineType = Get("MachineType") ?? "microvm",
            KernelParams = Get("KernelParams") ?? "",
            Readiness = Get("Readiness") switch
            {
                null => Readiness.Agent,
                var r when r.Equals("agent", StringComparison.OrdinalIgnoreCase) => Readiness.Agent,
                var r when r.Equals("console-marker", StringComparison.OrdinalIgnoreCase) => Readiness.ConsoleMarker,
                var r when r.Equals("none", StringComparison.OrdinalIgnoreCase) => Readiness.None,
                var r => throw IsolaException.InvalidArgument($"{Key("Readiness")} = '{r}': expected agent, console-marker or none"),
            },
            ReadinessMarker = Get("ReadinessMarker") ?? "ISOLA-GUEST-READY",
            AgentChannel = Get("AgentChannel") switch
            {
                null or "auto" => null,
                var c when Enum.TryParse<AgentChannel>(c, true, out var ch) => ch,
                var c => throw IsolaException.InvalidArgument($"{Key("AgentChannel")} = '{c}': expected auto, vsock or serial"),
            },
            AgentPort = (uint)Int(Key("AgentPort"), Get("AgentPort"), 1024, 1, int.MaxValue),
            VsockAddressScheme = Get("VsockAddressScheme") switch
            {
                null => "ttrpc+vsock",
                "ttrpc+vsock" or "vsock" => Get("VsockAddressScheme")!,
                var s => throw IsolaException.InvalidArgument($"{Key("VsockAddressScheme")} = '{s}': expected ttrpc+vsock or vsock"),
            },
            TaskApiVersion = (uint)Int(Key("TaskApiVersion"), Get("TaskApiVersion"), 2, 2, 3),
            SharedFs = Bool(Key("SharedFs"), Get("SharedFs"), true),
            VirtiofsDaemon = Get("VirtiofsDaemon") ?? (vmm == QemuVmm.VmmName ? "/usr/lib/qemu/virtiofsd" : "/usr/bin/virtiofsd"),
            StartTimeout = Duration(Key("StartTimeout"), Get("StartTimeout"), TimeSpan.FromSeconds(10)),
            ReadyTimeout = Duration(Key("ReadyTimeout"), Get("ReadyTimeout"), TimeSpan.FromSeconds(45)),
            Extra = extra,
        };

        if (options.Initrd is not null && options.Image is not null)
        {
            throw IsolaException.InvalidArgument($"{Key("Image")}: set Initrd or Image, not both");
        }

        try
        {
            VmSettings.Parse(extra);
        }
        catch (IsolaException e)
        {
            throw IsolaException.InvalidArgument($"{configPath}: {e.Message}");
        }

        return options;
    }

    /// <summary>Checks that the files the options name exist; throws NotFound naming the key.</summary>
    public void RequireFiles(SandboxId sandboxId)
    {
        Require("Binary", Binary);
        Require("Kernel", Kernel);
        if (Initrd is not null)
        {
            Require("Initrd", Initrd);
        }

        if (Image is not null)
        {
            Require("Image", Image);
        }

        if (SharedFs)
        {
            Require("VirtiofsDaemon", VirtiofsDaemon);
        }

        void Require(string key, string path)
        {
            if (!File.Exists(path))
            {
                throw IsolaException.NotFound($"sandbox {sandboxId}: {ConfigPath}:{key} = '{path}' does not exist");
            }
        }
    }

    private static string AbsolutePath(string key, string value) =>
        Path.IsPathFullyQualified(value) ? value : throw IsolaException.InvalidArgument($"{key} = '{value}': must be an absolute path");

    private static int Int(string key, string? value, int fallback, int min, int max)
    {
        if (value is null)
        {
            return fallback;
        }

        return int.TryParse(value, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw IsolaException.InvalidArgument($"{key} = '{value}': expected an integer from {min} to {max}");
    }

    private static bool Bool(string key, string? value, bool fallback) =>
        value is null ? fallback : bool.TryParse(value, out var b) ? b : throw IsolaException.InvalidArgument($"{key} = '{value}': expected true or false");

    private static TimeSpan Duration(string key, string? value, TimeSpan fallback) =>
        value is null ? fallback
        : TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out var t) && t > TimeSpan.Zero ? t
        : throw IsolaException.InvalidArgument($"{key} = '{value}': expected a positive duration such as 00:00:10");
}
