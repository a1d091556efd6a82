using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Isola.Hosting.Configuration;

/// <summary>
/// The host's own settings under the <c>Isola</c> configuration section, read and validated once at start.
/// Every error names the offending key.
/// </summary>
internal sealed record IsolaSettings
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Isola";

    public required string Root { get; init; }

    public required string PluginsDir { get; init; }

    /// <summary>True when PluginsDir was set explicitly (a missing folder is then an error).</summary>
    public bool PluginsDirExplicit { get; init; }

    /// <summary>Isola:DefaultRuntime as configured; null when unset, and then the runtime a plugin offers is the
    /// default (see <see cref="RuntimeTableBuilder"/>).</summary>
    public string? DefaultRuntime { get; init; }

    public TimeSpan ControllerTimeout { get; init; } = TimeSpan.FromMinutes(1);

    public TimeSpan TaskTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest pause between two attempts of a background Wait that lost its controller.</summary>
    public TimeSpan WaitRetryMax { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How much the host reconciles at start (<c>Isola:Recovery</c>).</summary>
    public RecoveryMode Recovery { get; init; } = RecoveryMode.Full;

    public static IsolaSettings Read(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        var pluginsDir = section["PluginsDir"];
        var defaultRuntime = section["DefaultRuntime"];
        return new IsolaSettings
        {
            Root = NonEmpty(section, "Root") ?? "/var/lib/isola",
            PluginsDir = Path.GetFullPath(string.IsNullOrWhiteSpace(pluginsDir) ? "plugins" : pluginsDir, AppContext.BaseDirectory),
            PluginsDirExplicit = !string.IsNullOrWhiteSpace(pluginsDir),
            DefaultRuntime = string.IsNullOrWhiteSpace(defaultRuntime) ? null : defaultRuntime,
            ControllerTimeout = Duration(section, "Timeouts:Controller", TimeSpan.FromMinutes(1)),
            TaskTimeout = Duration(section, "Timeouts:Task", TimeSpan.FromSeconds(30)),
            StopTimeout = Duration(section, "Timeouts:Stop", TimeSpan.FromSeconds(10)),
            WaitRetryMax = Duration(section, "Timeouts:WaitRetryMax", TimeSpan.FromSeconds(10)),
            Recovery = Mode(section, "Recovery"),
        };
    }

    private static string? NonEmpty(IConfigurationSection section, string key)
    {
        var value = section[key];
        if (value is not null && string.IsNullOrWhiteSpace(value))
        {
            throw IsolaException.InvalidArgument($"{Section}:{key}: must not be empty");
        }

        return value;
    }

    private static RecoveryMode Mode(IConfigurationSection section, string key)
    {
        var text = section[key];
        if (text is null)
        {
            return RecoveryMode.Full;
        }

        return Enum.TryParse<RecoveryMode>(text, ignoreCase: true, out var mode) && Enum.IsDefined(mode)
            ? mode
            : throw IsolaException.InvalidArgument($"{Section}:{key}: '{text}' is not a recovery mode (use Full or OnDemand)");
    }

    /// <summary>Parses a positive time span ("00:00:30", or a number of seconds).</summary>
    private static TimeSpan Duration(IConfigurationSection section, string key, TimeSpan fallback)
    {
        var text = section[key];
        if (text is null)
        {
            return fallback;
        }

        TimeSpan value;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && double.IsFinite(seconds))
        {
            value = TimeSpan.FromSeconds(seconds);
        }
        else if (!TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value))
        {
            throw IsolaException.InvalidArgument($"{Section}:{key}: '{text}' is not a duration (use hh:mm:ss or seconds)");
        }

        if (value <= TimeSpan.Zero)
        {
            throw IsolaException.InvalidArgument($"{Section}:{key}: '{text}' must be greater than zero");
        }

        return value;
    }
}
