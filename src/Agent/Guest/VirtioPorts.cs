namespace Isola.Agent.Guest;

/// <summary>Finds a named virtio-serial port: the host names it (QEMU's virtserialport name=agent.0) and the guest
/// kernel lists it as /sys/class/virtio-ports/vportNpM/name, with the character device /dev/vportNpM.</summary>
internal static class VirtioPorts
{
    public const string AgentPortName = "agent.0";

    /// <summary>/dev/vportNpM of the port named <paramref name="name"/>, or null when there is none (yet).</summary>
    public static string? Find(string name, string sysRoot = "/sys", string devRoot = "/dev")
    {
        var ports = Path.Combine(sysRoot, "class", "virtio-ports");
        if (!Directory.Exists(ports))
        {
            return null;
        }

        foreach (var port in Directory.EnumerateFileSystemEntries(ports).Order(StringComparer.Ordinal))
        {
            var nameFile = Path.Combine(port, "name");
            if (File.Exists(nameFile) && File.ReadAllText(nameFile).Trim() == name)
            {
                return Path.Combine(devRoot, Path.GetFileName(port));
            }
        }

        return null;
    }
}
