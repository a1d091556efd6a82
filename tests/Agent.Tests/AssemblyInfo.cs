// The agent and its tests run only on Linux.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
