using System.Globalization;

namespace Isola.Plugins.StratoVirt.Vmm;

/// <summary>How the guest agent is reached: vsock (needs /dev/vhost-vsock on the host) or a virtio-serial port whose
/// host end is a Unix socket.</summary>
internal enum AgentChannel
{
    /// <summary>vhost-vsock; task address ttrpc+vsock://&lt;cid&gt;:1024.</summary>
    Vsock,

    /// <summary>virtio-serial port "agent.0" on a Unix socket; task address ttrpc+unix://&lt;socket&gt;.</summary>
    Serial,
}

/// <summary>The typed view of <see cref="Isola.Vmm.VmLaunchSpec.Extra"/>: settings not every VMM shares.</summary>
internal sealed record VmSettings
{
    public const string AccelKey = "Accel";
    public const string HotplugSlotsKey = "HotplugSlots";
    public const string AgentChannelKey = "AgentChannel";
    public const string VsockFdKey = "VsockFd";
    public const string DebugKey = "Debug";
    public const string FirmwareKey = "Firmware";
    public const string DisableSeccompKey = "DisableSeccomp";
    public const string BlockDriverKey = "BlockDriver";
    public const string VirtiofsArgsKey = "VirtiofsArgs";
    public const string UnplugTimeoutKey = "UnplugTimeout";
    public const string QmpTimeoutKey = "QmpTimeout";

    /// <summary>QEMU accelerator: "tcg" or "kvm".</summary>
    public string Accel { get; init; } = "tcg";

    /// <summary>Hot-plug slots: PCIe root ports on a PCIe machine; StratoVirt's microvm has 4 fixed replaceable slots.</summary>
    public int HotplugSlots { get; init; } = 4;

    public AgentChannel AgentChannel { get; init; } = AgentChannel.Serial;

    /// <summary>An inherited /dev/vhost-vsock descriptor already bound to the CID (passed as vhostfd=).</summary>
    public int? VsockFd { get; init; }

    /// <summary>Write the VMM's own log (-D).</summary>
    public bool Debug { get; init; }

    /// <summary>pflash firmware for a standard machine that needs it.</summary>
    public string? Firmware { get; init; }

    /// <summary>StratoVirt only: run without its seccomp filter (Kuasar always does; off by default here).</summary>
    public bool DisableSeccomp { get; init; }

    /// <summary>Block device driver family; only virtio-blk is implemented (as in Kuasar for StratoVirt).</summary>
    public string BlockDriver { get; init; } = "virtio-blk";

    /// <summary>The virtiofs daemon's arguments with {socket}, {shared} and {log} placeholders; null for the VMM's default.</summary>
    public string? VirtiofsArgs { get; init; }

    /// <summary>Longest wait for the guest to acknowledge an unplug (DEVICE_DELETED); PCIe guests wait 5 s by design.</summary>
    public TimeSpan UnplugTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Longest wait for one QMP reply.</summary>
    public TimeSpan QmpTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Parses the Extra bag; throws InvalidArgument naming the key.</summary>
    public static VmSettings Parse(IReadOnlyDictionary<string, string> extra)
    {
        var s = new VmSettings();
        foreach (var (key, value) in extra)
        {
            s = key switch
            {
                AccelKey => s with { Accel = value is "tcg" or "kvm" ? value : throw Bad(key, value, "tcg or kvm") },
                HotplugSlotsKey => s with { HotplugSlots = int.TryParse(value, CultureInfo.InvariantCulture, out var n) && n is >= 0 and <= 16 ? n : throw Bad(key, value, "0-16") },
                AgentChannelKey => s with { AgentChannel = Enum.TryParse<AgentChannel>(value, true, out var c) ? c : throw Bad(key, value, "vsock or serial") },
                VsockFdKey => s with { VsockFd = int.TryParse(value, CultureInfo.InvariantCulture, out var fd) && fd >= 0 ? fd : throw Bad(key, value, "a descriptor number") },
                DebugKey => s with { Debug = bool.TryParse(value, out var d) ? d : throw Bad(key, value, "true or false") },
                FirmwareKey => s with { Firmware = value.Length > 0 ? value : null },
                DisableSeccompKey => s with { DisableSeccomp = bool.TryParse(value, out var sc) ? sc : throw Bad(key, value, "true or false") },
                BlockDriverKey => s with { BlockDriver = value == "virtio-blk" ? value : throw Bad(key, value, "virtio-blk (the only driver implemented)") },
                VirtiofsArgsKey => s with { VirtiofsArgs = value },
                UnplugTimeoutKey => s with { UnplugTimeout = Duration(key, value) },
                QmpTimeoutKey => s with { QmpTimeout = Duration(key, value) },
                _ => throw IsolaException.InvalidArgument($"unknown VMM setting '{key}'"),
            };
        }

        return s;
    }

    private static TimeSpan Duration(string key, string value) =>
        TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out var t) && t > TimeSpan.Zero ? t : throw Bad(key, value, "a positive duration such as 00:00:15");

    private static IsolaException Bad(string key, string value, string expected) =>
        IsolaException.InvalidArgument($"VMM setting '{key}' = '{value}' is invalid: expected {expected}");
}
