using System.Runtime.Versioning;

// Unix sockets, SO_PEERCRED and Unix file modes: Linux only, like the runtimes it fronts.
[assembly: SupportedOSPlatform("linux")]
