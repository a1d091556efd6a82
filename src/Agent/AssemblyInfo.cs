// isola-agent runs only on Linux (a guest's init, or a Linux host in tests).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
