using System.Runtime.Versioning;

// Layers unpack into overlayfs form (device nodes, xattrs, owners): Linux only.
[assembly: SupportedOSPlatform("linux")]
