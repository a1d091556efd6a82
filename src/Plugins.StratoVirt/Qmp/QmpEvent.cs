using System.Text.Json.Nodes;

namespace Isola.Plugins.StratoVirt.Qmp;

/// <summary>An asynchronous QMP event (SHUTDOWN, STOP, RESUME, POWERDOWN, DEVICE_DELETED, ...).</summary>
/// <param name="Name">The event name.</param>
/// <param name="Data">Its data object, if any.</param>
/// <param name="Timestamp">When the VMM emitted it.</param>
internal sealed record QmpEvent(string Name, JsonObject? Data, DateTimeOffset Timestamp)
{
    /// <summary>A string member of <see cref="Data"/>, or null.</summary>
    public string? DataString(string key) =>
        Data is not null && Data.TryGetPropertyValue(key, out var v) && v is JsonValue jv && jv.TryGetValue<string>(out var s) ? s : null;
}
