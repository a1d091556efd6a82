using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Isola.SandboxApi.Tasks;

namespace Isola.SandboxApi.Tests;

/// <summary>The extensions.tasks JSON in the shape Kuasar's serde structs read (protocols.md 1.5).</summary>
public sealed class TaskResourcesTests
{
    [Fact]
    public void Serialises_with_Kuasars_snake_case_names_and_every_field_present()
    {
        var list = new TaskResources();
        list.Tasks.Add(new TaskResource
        {
            TaskId = "c1",
            Spec = new JsonObject { ["ociVersion"] = "1.1.0" },
            Rootfs = [new TaskMount { Type = "bind", Source = "/r", Options = ["rbind"] }],
            Stdout = "/o",
            Processes = [new ProcessResource { ExecId = "e1", Spec = new JsonObject { ["cwd"] = "/" } }],
        });

        using var doc = JsonDocument.Parse(list.ToUtf8Json());
        var task = doc.RootElement.GetProperty("tasks")[0];
        Assert.Equal(["task_id", "spec", "rootfs", "stdin", "stdout", "stderr", "processes"], task.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["type", "source", "destination", "options"], task.GetProperty("rootfs")[0].EnumerateObject().Select(p => p.Name));
        Assert.Equal(["exec_id", "spec", "stdin", "stdout", "stderr"], task.GetProperty("processes")[0].EnumerateObject().Select(p => p.Name));
        Assert.Equal("", task.GetProperty("rootfs")[0].GetProperty("destination").GetString());
    }

    [Fact]
    public void Parses_what_iSulad_sends_and_an_empty_value_as_no_tasks()
    {
        var json = """{"tasks":[{"task_id":"c","spec":{"ociVersion":"1.0.2","process":{"cwd":"/"}},"rootfs":[{"type":"bind","source":"/m"}],"stdin":"","stdout":"/f","stderr":"/f"}]}""";
        var list = TaskResources.Parse(Encoding.UTF8.GetBytes(json));
        Assert.Equal("c", list.Tasks.Single().TaskId);
        Assert.Equal("/m", list.Find("c")!.Rootfs.Single().Source);
        Assert.Empty(list.Find("c")!.Processes);
        Assert.Empty(TaskResources.Parse([]).Tasks);
        Assert.Throws<JsonException>(() => TaskResources.Parse("{"u8));
    }
}
