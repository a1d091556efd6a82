using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.State;

/// <summary>&lt;root&gt;/.names/&lt;name&gt; holds the id of the sandbox with that name: lookups by name and creates read
/// one entry, not every record; a crash between steps never wedges a name.</summary>
public sealed class NameIndexTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    private string Entry(string name) => Path.Combine(_t.Root, ".names", name);

    [Fact]
    public async Task An_entry_is_written_at_create_and_removed_with_the_sandbox()
    {
        await using var host = await _t.StartAsync();
        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1", Name = "web" });
        Assert.Equal("sb1", File.ReadAllText(Entry("web")));
        Assert.Equal("sb1", (await host.Sandboxes.GetAsync("web")).Id);
        await sandbox.RemoveAsync();
        Assert.False(File.Exists(Entry("web")));
        await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.GetAsync("web"));
    }

    [Fact]
    public async Task Lookup_by_name_and_create_read_no_other_record()
    {
        await using var host = await _t.StartAsync();
        await host.Sandboxes.CreateAsync(new SandboxSpec { Id = "sb1", Name = "web" });
        await host.Sandboxes.CreateAsync(new SandboxSpec { Id = "other" });
        // Make the other record impossible to read: a path that reads every record fails on it.
        var otherRecord = Path.Combine(_t.Root, "other", "sandbox.json");
        File.Delete(otherRecord);
        Directory.CreateDirectory(otherRecord);

        Assert.Equal("sb1", (await host.Sandboxes.GetAsync("web")).Id);
        await host.Sandboxes.CreateAsync(new SandboxSpec { Id = "sb2", Name = "api" });
        var clash = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.CreateAsync(new SandboxSpec { Id = "sb3", Name = "web" }));
        Assert.Equal(IsolaErrorCode.AlreadyExists, clash.Code);
        Assert.Contains("'sb1'", clash.Message);
        Directory.Delete(otherRecord);
    }

    [Fact]
    public async Task Ids_and_names_share_one_namespace()
    {
        await using var host = await _t.StartAsync();
        await host.Sandboxes.CreateAsync(new SandboxSpec { Id = "sb1", Name = "web" });
        var idIsName = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.CreateAsync(new SandboxSpec { Id = "web" }));
        Assert.Equal(IsolaErrorCode.AlreadyExists, idIsName.Code);
        var nameIsId = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.CreateAsync(new SandboxSpec { Id = "sb2", Name = "sb1" }));
        Assert.Equal(IsolaErrorCode.AlreadyExists, nameIsId.Code);
    }

    [Fact]
    public async Task A_stale_entry_left_by_a_crash_does_not_wedge_the_name()
    {
        await using (var host = await _t.StartAsync())
        {
            await host.Sandboxes.CreateAsync(new SandboxSpec { Id = "sb1" });
        }

        // A crash after the entry was written, before its record: the entry points at a sandbox that does not exist.
        File.WriteAllText(Entry("web"), "ghost");
        // A crash after the entry was removed, before the record was deleted: the record lacks its entry.
        File.Delete(Entry("sb1"));

        await using (var host = await _t.StartAsync(("Isola:Recovery", "OnDemand")))
        {
            Assert.False(File.Exists(Entry("web")));
            Assert.Equal("sb1", File.ReadAllText(Entry("sb1")));
        }

        File.WriteAllText(Entry("web"), "ghost");
        await using (var host = await _t.StartAsync())
        {
            File.WriteAllText(Entry("web"), "ghost"); // stale again while the host runs
            var sandbox = await host.Sandboxes.CreateAsync(new SandboxSpec { Id = "sb2", Name = "web" });
            Assert.Equal("sb2", (await host.Sandboxes.GetAsync("web")).Id);
            Assert.Equal("sb2", File.ReadAllText(Entry("web")));
        }
    }

    [Fact]
    public async Task A_root_written_before_the_index_gets_one_at_start()
    {
        await using (var host = await _t.StartAsync())
        {
            await host.Sandboxes.CreateAsync(new SandboxSpec { Id = "sb1", Name = "web" });
        }

        Directory.Delete(Path.Combine(_t.Root, ".names"), recursive: true);
        await using (var host = await _t.StartAsync(("Isola:Recovery", "OnDemand")))
        {
            Assert.Equal("sb1", (await host.Sandboxes.GetAsync("web")).Id);
        }
    }
}
