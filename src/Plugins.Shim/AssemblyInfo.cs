using System.Runtime.Versioning;

// Shims, runc, FIFOs, /proc and cgroups: this plugin is Linux-only.
[assembly: SupportedOSPlatform("linux")]
