namespace Isola.Hosting.Sandboxes;

/// <summary>
/// The sandbox state machine of DESIGN.md. Every state change the host persists goes through <see cref="Ensure"/>,
/// so an operation that is not allowed in the current state fails before any side effect.
/// </summary>
internal static class SandboxTransitions
{
    private static readonly Dictionary<SandboxState, SandboxState[]> Allowed = new()
    {
        // Creating and Starting may fall back to Removing: a failed or crashed create/start is rolled back by Shutdown.
        [SandboxState.Creating] = [SandboxState.Created, SandboxState.Removing],
        [SandboxState.Created] = [SandboxState.Starting, SandboxState.Stopping, SandboxState.Removing],
        [SandboxState.Starting] = [SandboxState.Ready, SandboxState.Removing],
        // Ready -> Stopped without Stopping: the background Wait saw the sandbox exit on its own.
        [SandboxState.Ready] = [SandboxState.Pending, SandboxState.Stopping, SandboxState.Stopped],
        [SandboxState.Pending] = [SandboxState.Ready, SandboxState.Stopping, SandboxState.Stopped],
        // Stopping -> Stopping: a Stop that failed half-way may be retried.
        [SandboxState.Stopping] = [SandboxState.Stopping, SandboxState.Stopped],
        [SandboxState.Stopped] = [SandboxState.Removing],
        // Removing -> Removing: a Shutdown that failed may be retried. Success deletes the record (no state).
        [SandboxState.Removing] = [SandboxState.Removing],
        // After a restart, Status decides; a sandbox whose controller never answers can still be stopped or removed.
        [SandboxState.Unknown] = [SandboxState.Ready, SandboxState.Pending, SandboxState.Stopping, SandboxState.Stopped, SandboxState.Removing],
    };

    /// <summary>True when the state machine allows <paramref name="from"/> -> <paramref name="to"/>.</summary>
    public static bool IsAllowed(SandboxState from, SandboxState to) =>
        Allowed.TryGetValue(from, out var targets) && targets.Contains(to);

    /// <summary>Throws <see cref="IsolaErrorCode.FailedPrecondition"/> naming the sandbox and the operation when the
    /// transition is not allowed.</summary>
    public static void Ensure(SandboxId sandboxId, string operation, SandboxState from, SandboxState to)
    {
        if (!IsAllowed(from, to))
        {
            throw IsolaException.FailedPrecondition(
                $"sandbox '{sandboxId}': cannot {operation} a sandbox in state {from}");
        }
    }
}
