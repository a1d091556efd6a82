using System.Text;
using System.Text.Json.Nodes;
using Isola.Controllers;
using Isola.SandboxApi.Tasks;

namespace Isola.Plugins.Sandboxer.Tasks;

/// <summary>Keeps a sandbox's declarative task list in its controller state, which the host persists with the
/// sandbox record as JSON (not as text inside a string): after a restart the next Update still carries every
/// container.</summary>
internal static class TaskListStore
{
    /// <summary>The controller-state key (and the controller-data key of records written before the list moved).</summary>
    public const string Key = "sandboxer.tasks";

    /// <summary>The saved list, or an empty one.</summary>
    public static TaskResources Load(SandboxContext sandbox)
    {
        if (sandbox.ControllerState[Key] is JsonObject saved)
        {
            return TaskResources.FromJsonObject(saved);
        }

        // A record written before the list moved to ControllerState holds it as JSON text in ControllerData.
        return sandbox.ControllerData.TryGetValue(Key, out var json) ? TaskResources.Parse(Encoding.UTF8.GetBytes(json)) : new TaskResources();
    }

    /// <summary>Saves <paramref name="list"/> (removing the key when it is empty, and the old text copy always).</summary>
    public static void Save(SandboxContext sandbox, TaskResources list)
    {
        sandbox.ControllerData.Remove(Key);
        if (list.Tasks.Count == 0)
        {
            sandbox.ControllerState.Remove(Key);
            return;
        }

        sandbox.ControllerState[Key] = list.ToJsonObject();
    }
}
