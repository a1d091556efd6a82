using Google.Protobuf.WellKnownTypes;
using Isola.SandboxApi;
using ProtoMount = Isola.SandboxApi.Types.Mount;

namespace Isola.Plugins.Sandboxer.Wire;

/// <summary>Small mappings both generations share.</summary>
internal static class Conversions
{
    /// <summary>Null-safe Timestamp to DateTimeOffset.</summary>
    public static DateTimeOffset? ToDateTimeOffset(Timestamp? t) => t is null ? null : t.ToDateTimeOffset();

    /// <summary>The exit a Wait response describes; Kuasar leaves exited_at null when it has none.</summary>
    public static ExitStatus ToExit(uint status, Timestamp? exitedAt) =>
        new(status, ToDateTimeOffset(exitedAt) ?? DateTimeOffset.UtcNow);

    /// <summary>"SANDBOX_READY" is ready, "SANDBOX_NOTREADY" is not; anything else is a protocol violation.</summary>
    public static bool IsReady(string state, SandboxId sandboxId) => state switch
    {
        SandboxStates.Ready => true,
        SandboxStates.NotReady => false,
        _ => throw IsolaException.Internal(
            $"sandbox '{sandboxId}': the sandboxer reported state '{state}', expected {SandboxStates.Ready} or {SandboxStates.NotReady}"),
    };

    /// <summary>The container's rootfs as the mount list Task.Create and the task list take.</summary>
    public static Mount RootfsMount(ContainerSpec spec) => Mount.Bind(spec.Rootfs, "", spec.ReadOnlyRootfs);

    /// <summary>To containerd.types.Mount.</summary>
    public static ProtoMount ToProto(Mount m) => new() { Type = m.Type, Source = m.Source, Target = m.Destination, Options = { m.Options } };

    /// <summary>Whole seconds, rounded up, as Stop's timeout_secs.</summary>
    public static uint TimeoutSeconds(TimeSpan timeout) =>
        timeout <= TimeSpan.Zero ? 0 : (uint)Math.Min(uint.MaxValue, Math.Ceiling(timeout.TotalSeconds));

    /// <summary>A mutable copy, the shape protobuf map fields accept.</summary>
    public static Dictionary<string, string> Copy(IReadOnlyDictionary<string, string> map) => new(map, StringComparer.Ordinal);
}
