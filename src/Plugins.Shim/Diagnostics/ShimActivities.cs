using System.Diagnostics;

namespace Isola.Plugins.Shim.Diagnostics;

/// <summary>
/// One activity per phase of a pod's start and teardown (shim start, pause Create, ...), so a profiler or the
/// benchmark can see where the time goes. Activities are only created while someone listens: no cost otherwise.
/// </summary>
internal static class ShimActivities
{
    /// <summary>The source name to listen to.</summary>
    public const string SourceName = "Isola.Plugins.Shim";

    private static readonly ActivitySource Source = new(SourceName);

    /// <summary>Starts phase <paramref name="name"/> of sandbox <paramref name="sandboxId"/>; dispose to end it.</summary>
    public static Activity? Phase(string name, string sandboxId)
    {
        var activity = Source.StartActivity(name);
        activity?.SetTag("sandbox.id", sandboxId);
        return activity;
    }
}
