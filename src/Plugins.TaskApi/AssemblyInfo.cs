using System.Runtime.Versioning;

// Unix sockets, vsock and hybrid vsock: the transports of every task address this plugin dials are Linux ones.
[assembly: SupportedOSPlatform("linux")]
