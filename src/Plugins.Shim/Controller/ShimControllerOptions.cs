using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace Isola.Plugins.Shim.Controller;

/// <summary>The <c>Options</c> of a runtime handler whose controller is <c>shim</c>.</summary>
internal sealed partial record ShimControllerOptions
{
    /// <summary>The OCI runtime the shim runs: "runc", "crun", or an absolute path to either.</summary>
    public string Runtime { get; init; } = "runc";

    /// <summary>The containerd runtime-v2 shim binary.</summary>
    public string ShimBinary { get; init; } = "containerd-shim-runc-v2";

    /// <summary>The parent cgroup of each sandbox's cgroup (cgroupsPath = parent/sandbox-id).</summary>
    public string CgroupParent { get; init; } = "/isola";

    /// <summary>The containerd namespace shims are started in; runc state lives under /run/containerd/runc/NAMESPACE.
    /// Null (the default): one per state root (<see cref="ShimControllerFactory.SettingsFor"/>), so two state roots never
    /// share runc containers.</summary>
    public string? Namespace { get; init; }

    /// <summary>Listen for the shims' events while this host lives (see Events/EventsEndpoint.cs). For a long-lived host
    /// that wants them; others leave the endpoint refusing connections, which costs a shim nothing.</summary>
    public bool ServeEvents { get; init; }

    /// <summary>The pause binary; by default the isola-pause built next to this plugin.</summary>
    public string? PauseBinary { get; init; }

    /// <summary>
    /// How pods map to shim processes. <see cref="ShimGrouping.Pod"/> (the default): one containerd-shim-runc-v2 per
    /// pod, so a shim's failure reaches that pod only. <see cref="ShimGrouping.Runtime"/>: every pod of this runtime
    /// and state root joins one shim, started with the first pod and shut down with the last, which saves most of the
    /// ~2.8 MB (PSS) a shim costs per pod; the trade-off is that one shim's crash or hang reaches every pod in it at
    /// once (the pods keep running without it, are reported unreachable, and Stop/Remove clean each up; see
    /// docs/shim.md, "Shared-shim pods").
    /// </summary>
    public ShimGrouping ShimGrouping { get; init; } = ShimGrouping.Pod;

    /// <summary>Binds and validates the options, naming the bad key (<paramref name="path"/>:Key) in the error.</summary>
    public static ShimControllerOptions Bind(IConfiguration section, string path)
    {
        var known = new[] { nameof(Runtime), nameof(ShimBinary), nameof(CgroupParent), nameof(Namespace), nameof(PauseBinary), nameof(ServeEvents), nameof(ShimGrouping) };
        foreach (var child in section.GetChildren())
        {
            if (!known.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                throw IsolaException.InvalidArgument($"{path}:{child.Key}: unknown option of the shim controller (known: {string.Join(", ", known)})");
            }
        }

        var options = new ShimControllerOptions();
        options = options with
        {
            Runtime = section[nameof(Runtime)] ?? options.Runtime,
            ShimBinary = section[nameof(ShimBinary)] ?? options.ShimBinary,
            CgroupParent = section[nameof(CgroupParent)] ?? options.CgroupParent,
            Namespace = section[nameof(Namespace)] ?? options.Namespace,
            PauseBinary = section[nameof(PauseBinary)],
        };

        if (section[nameof(ServeEvents)] is { } serve)
        {
            options = options with
            {
                ServeEvents = bool.TryParse(serve, out var on)
                    ? on
                    : throw IsolaException.InvalidArgument($"{path}:{nameof(ServeEvents)}: '{serve}' is not true or false"),
            };
        }

        if (section[nameof(ShimGrouping)] is { } grouping)
        {
            options = options with
            {
                ShimGrouping = Enum.TryParse<ShimGrouping>(grouping, ignoreCase: true, out var g) && Enum.IsDefined(g)
                    ? g
                    : throw IsolaException.InvalidArgument($"{path}:{nameof(ShimGrouping)}: '{grouping}' is not Pod or Runtime"),
            };
        }

        if (options.Runtime is not ("runc" or "crun") && !(Path.IsPathFullyQualified(options.Runtime) && File.Exists(options.Runtime)))
        {
            throw IsolaException.InvalidArgument($"{path}:{nameof(Runtime)}: '{options.Runtime}' is not runc, crun or an existing absolute path");
        }

        if (string.IsNullOrWhiteSpace(options.ShimBinary) || options.ShimBinary.Contains(' ', StringComparison.Ordinal))
        {
            throw IsolaException.InvalidArgument($"{path}:{nameof(ShimBinary)}: '{options.ShimBinary}' is not a binary name or path");
        }

        if (!IsCgroupPath(options.CgroupParent))
        {
            throw IsolaException.InvalidArgument($"{path}:{nameof(CgroupParent)}: '{options.CgroupParent}' must be an absolute cgroup path like /isola (letters, digits, '.', '_', '-')");
        }

        if (options.Namespace is { } ns && !NamespacePattern().IsMatch(ns))
        {
            throw IsolaException.InvalidArgument($"{path}:{nameof(Namespace)}: '{options.Namespace}' is not a valid containerd namespace (letters, digits, '.', '_', '-'; up to 76)");
        }

        if (options.PauseBinary is { } pause && !(Path.IsPathFullyQualified(pause) && File.Exists(pause)))
        {
            throw IsolaException.InvalidArgument($"{path}:{nameof(PauseBinary)}: '{pause}' is not an existing absolute path");
        }

        return options;
    }

    /// <summary>True for "/a/b" style cgroup paths with safe segments (no "..", no empty segments).</summary>
    public static bool IsCgroupPath(string? value) =>
        value is { Length: > 1 } && value[0] == '/' && value[1..].TrimEnd('/').Split('/').All(s => s is not ("" or "." or "..") && CgroupSegmentPattern().IsMatch(s));

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,75}$")]
    private static partial Regex NamespacePattern();

    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex CgroupSegmentPattern();
}
