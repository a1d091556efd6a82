namespace Isola;

/// <summary>The platform a sandbox runs containers for, as the Sandbox API's Platform call reports it.</summary>
/// <param name="Os">Operating system, for example "linux".</param>
/// <param name="Architecture">CPU architecture, for example "amd64" (Kuasar reports "x86").</param>
/// <param name="Variant">Architecture variant; may be empty.</param>
public sealed record PlatformInfo(string Os, string Architecture, string Variant = "");
