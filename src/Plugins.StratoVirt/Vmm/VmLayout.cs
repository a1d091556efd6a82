namespace Isola.Plugins.StratoVirt.Vmm;

/// <summary>Where one VM's files live inside its state directory. Short fixed names keep socket paths well under the
/// 108-byte sun_path limit for any state directory the host creates.</summary>
internal sealed record VmLayout(string StateDirectory)
{
    /// <summary>sun_path holds 107 bytes plus the terminating NUL.</summary>
    public const int MaxSocketPath = 107;

    public string QmpSocket => Path.Combine(StateDirectory, "qmp.sock");

    public string PidFile => Path.Combine(StateDirectory, "vmm.pid");

    public string DefaultConsoleLog => Path.Combine(StateDirectory, "console.log");

    public string AgentSocket => Path.Combine(StateDirectory, "agent.sock");

    public string VirtiofsSocket => Path.Combine(StateDirectory, "virtiofs.sock");

    public string VirtiofsLog => Path.Combine(StateDirectory, "virtiofsd.log");

    public string DebugLog => Path.Combine(StateDirectory, "vmm.log");

    /// <summary>The VMM's stdout and stderr (its launcher's, and the daemon's if it keeps them).</summary>
    public string OutputLog => Path.Combine(StateDirectory, "vmm-output.log");

    /// <summary>Throws InvalidArgument naming the path when a socket would not fit in sun_path.</summary>
    public void ValidateSocketPaths(SandboxId id)
    {
        foreach (var p in new[] { QmpSocket, AgentSocket, VirtiofsSocket })
        {
            if (System.Text.Encoding.UTF8.GetByteCount(p) > MaxSocketPath)
            {
                throw IsolaException.InvalidArgument(
                    $"VM {id}: socket path '{p}' is longer than {MaxSocketPath} bytes; use a shorter state root");
            }
        }
    }
}
