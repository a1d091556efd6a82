using System.Runtime.Versioning;

// Everything here drives Linux VMMs, sockets and /proc.
[assembly: SupportedOSPlatform("linux")]
