namespace Isola.SandboxApi;

/// <summary>The strings ControllerStatusResponse.state carries (CRI's PodSandboxState names).</summary>
public static class SandboxStates
{
    /// <summary>The sandbox runs.</summary>
    public const string Ready = "SANDBOX_READY";

    /// <summary>Anything else: created, stopped, exited.</summary>
    public const string NotReady = "SANDBOX_NOTREADY";
}
