using System.Text;

namespace Isola.Scripting.Tests;

/// <summary>The cache's content hashes: XXH3-128 of texts, images and files.</summary>
public sealed class ScriptHashingTests
{
    [Fact]
    public void The_empty_input_hashes_to_the_published_xxh3_128_value()
    {
        Assert.Equal("99aa06d3014798d86001c324468d497f", ScriptHashing.OfText(""));
    }

    [Theory]
    [InlineData("a")]
    [InlineData("#load \"common.csx\"\nreturn 0;\n")]
    public void A_text_hashes_as_its_utf8_bytes(string text)
    {
        Assert.Equal(32, ScriptHashing.OfText(text).Length);
        Assert.Equal(ScriptHashing.OfText(text), ScriptHashing.OfBytes(Encoding.UTF8.GetBytes(text)));
    }

    [Fact]
    public void One_changed_byte_changes_the_hash()
    {
        var image = new byte[4096];
        var before = ScriptHashing.OfBytes(image);
        image[2048] = 1;
        Assert.NotEqual(before, ScriptHashing.OfBytes(image));
    }

    [Fact]
    public void A_file_hashes_as_its_bytes()
    {
        var path = Path.Combine(Path.GetTempPath(), "isola-hashing-" + Guid.NewGuid().ToString("N"));
        var bytes = new byte[200_000];
        new Random(7).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        try
        {
            Assert.Equal(ScriptHashing.OfBytes(bytes), ScriptHashing.OfFile(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
