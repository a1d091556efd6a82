using System.Text;
using Isola.SandboxApi.Tasks;

namespace Isola.Plugins.Sandboxer.Tasks;

/// <summary>Keeps a sandbox's declarative task list in its controller data, which the host persists with the
/// sandbox record: after a restart the next Update still carries every container.</summary>
internal static class TaskListStore
{
    /// <summary>The controller-data key.</summary>
    public const string Key = "sandboxer.tasks";

    /// <summary>The saved list, or an empty one.</summary>
    public static TaskResources Load(IDictionary<string, string> controllerData) =>
        controllerData.TryGetValue(Key, out var json) ? TaskResources.Parse(Encoding.UTF8.GetBytes(json)) : new TaskResources();

    /// <summary>Saves <paramref name="list"/> (removing the key when it is empty).</summary>
    public static void Save(IDictionary<string, string> controllerData, TaskResources list)
    {
        if (list.Tasks.Count == 0)
        {
            controllerData.Remove(Key);
            return;
        }

        controllerData[Key] = Encoding.UTF8.GetString(list.ToUtf8Json());
    }
}
