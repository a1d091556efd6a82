using System.Text.Json;
using Isola.Cli.Tests.Support;
using Isola.TestSupport;

namespace Isola.Cli.Tests;

/// <summary><c>isola image</c> over a store in the test's state root: import, ls, inspect, rm, and bad input.</summary>
[Collection(TestPluginCollection.Name)]
public sealed class ImageCommandTests(TestPluginBuild plugin) : IDisposable
{
    private readonly CliWorld _w = new(plugin);

    public void Dispose() => _w.Dispose();

    [Fact]
    public async Task An_imported_image_is_listed_inspected_and_removed_leaving_an_empty_store()
    {
        var archive = Archive("v1");

        var import = await _w.RunAsync("image", "import", archive, "--name", "localhost/demo");
        var list = await _w.RunAsync("image", "ls", "-o", "json");
        var inspect = await _w.RunAsync("image", "inspect", "localhost/demo:v1");
        var remove = await _w.RunAsync("image", "rm", "localhost/demo:v1");
        var after = await _w.RunAsync("image", "ls");

        Assert.True(import.Code == 0, import.Err);
        Assert.Equal("localhost/demo:v1", import.Out.Trim());
        using var listed = JsonDocument.Parse(list.Out);
        Assert.Equal("localhost/demo:v1", Assert.Single(listed.RootElement.EnumerateArray()).GetProperty("reference").GetString());
        using var inspected = JsonDocument.Parse(inspect.Out);
        Assert.Equal(["/bin/sh"], inspected.RootElement.GetProperty("defaults").GetProperty("cmd").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("localhost/demo:v1", remove.Out.Trim());
        Assert.StartsWith("REFERENCE", Assert.Single(after.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_w.Root, "images", "blobs", "sha256")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_w.Root, "images", "snapshots")));
    }

    [Theory]
    [InlineData("image 'localhost/none:v1' is not in the image store", "image", "inspect", "localhost/none:v1")]
    [InlineData("image 'localhost/none:v1' is not in the image store", "image", "rm", "localhost/none:v1")]
    [InlineData("image reference 'Bad Ref'", "image", "pull", "Bad Ref")]
    [InlineData("registry 127.0.0.1:9 (http://127.0.0.1:9) is unreachable", "image", "pull", "127.0.0.1:9/app:v1")]
    public async Task Bad_image_input_is_one_line_naming_it_and_exit_1(string named, params string[] args)
    {
        var (code, _, err) = await _w.RunAsync(args);

        Assert.Equal(1, code);
        var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(named, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Importing_a_file_that_is_not_an_archive_names_it_and_stores_nothing()
    {
        var junk = Path.Combine(_w.Base, "junk.tar");
        await File.WriteAllTextAsync(junk, "not a tar at all, not even close to one........................................");

        var (code, _, err) = await _w.RunAsync("image", "import", junk);

        Assert.Equal(1, code);
        Assert.Contains(junk, err, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_w.Root, "images", "blobs", "sha256")));
    }

    private string Archive(string tag)
    {
        var builder = new OciArchiveBuilder();
        var image = builder.AddImage([builder.AddBusyboxLayer()], cmd: ["/bin/sh"]);
        builder.Name(image.Digest, image.Size, tag);
        return builder.WriteArchive(Path.Combine(_w.Base, "image.tar"));
    }
}
