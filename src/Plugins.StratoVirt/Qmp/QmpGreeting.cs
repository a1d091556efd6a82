namespace Isola.Plugins.StratoVirt.Qmp;

/// <summary>What the VMM said when the QMP connection opened.</summary>
/// <param name="Major">version.qemu.major (StratoVirt impersonates QEMU 5.0.1).</param>
/// <param name="Minor">version.qemu.minor.</param>
/// <param name="Micro">version.qemu.micro.</param>
/// <param name="Package">version.package, for example "StratoVirt-2.4.0" or "Debian 1:7.2+dfsg-7".</param>
/// <param name="Capabilities">Advertised capabilities (QEMU: "oob"; StratoVirt: none). Never enabled by this client.</param>
internal sealed record QmpGreeting(int Major, int Minor, int Micro, string Package, IReadOnlyList<string> Capabilities);
