namespace Isola.Plugins.StratoVirt.Vmm;

/// <summary>QMP device and node ids: QEMU wants a letter first, then letters, digits, '-', '.', '_' (at most 31 for
/// node names); the same rule keeps StratoVirt happy.</summary>
internal static class QmpIds
{
    public const int MaxLength = 31;

    public static void Validate(string vmId, string deviceId)
    {
        var ok = deviceId.Length is > 0 and <= MaxLength && char.IsAsciiLetter(deviceId[0]) &&
                 deviceId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_');
        if (!ok)
        {
            throw IsolaException.InvalidArgument(
                $"VM {vmId}: invalid device id '{deviceId}': 1-{MaxLength} letters, digits, '-', '.', '_', starting with a letter");
        }
    }
}
