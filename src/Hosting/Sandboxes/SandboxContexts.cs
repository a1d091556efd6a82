using System.Text.Json.Nodes;
using Isola.Controllers;
using Isola.Hosting.State;

namespace Isola.Hosting.Sandboxes;

/// <summary>Builds the controller's view of a sandbox from its record, in one place.</summary>
internal static class SandboxContexts
{
    /// <summary>The context of <paramref name="record"/>.</summary>
    /// <param name="record">The sandbox's record.</param>
    /// <param name="stateDirectory">The sandbox's state directory.</param>
    /// <param name="shareControllerData">True under the sandbox's lock: the context shares the record's ControllerData
    /// and ControllerState, so what the controller stores there is saved with the record's next write. False outside
    /// the lock (Wait): the controller gets copies, since nothing would save them.</param>
    /// <param name="checkpoint">What <see cref="SandboxContext.Checkpoint"/> does: saves the record, under the lock.</param>
    public static SandboxContext FromRecord(SandboxRecord record, string stateDirectory, bool shareControllerData, Action? checkpoint = null) =>
        new(record.Id, record.Name, record.Spec, stateDirectory,
            shareControllerData ? record.ControllerData : new Dictionary<string, string>(record.ControllerData), checkpoint)
        {
            TaskAddress = record.TaskAddress,
            TaskApiVersion = record.TaskApiVersion,
            ControllerState = shareControllerData ? record.ControllerState : (JsonObject)record.ControllerState.DeepClone(),
        };
}
