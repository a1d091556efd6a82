using System.Text;
using Isola.Hosting.Scripting;

namespace Isola.Host.Tests.Scripting;

/// <summary>The cache's content hashes: FNV-1a 128 (published test values) for texts and images, SHA-256 for files.</summary>
public sealed class ScriptHashingTests
{
    [Theory]
    [InlineData("", "6c62272e07bb014262b821756295c58d")]
    [InlineData("a", "d228cb696f1a8caf78912b704e4a8964")]
    [InlineData("foobar", "343e1662793c64bf6f0d3597ba446f18")]
    public void Texts_hash_with_fnv1a_128(string text, string expected)
    {
        Assert.Equal(expected, ScriptHashing.OfText(text));
        Assert.Equal(expected, ScriptHashing.OfBytes(Encoding.UTF8.GetBytes(text)));
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
    public void Files_hash_with_sha256()
    {
        var path = Path.Combine(Path.GetTempPath(), "isola-hashing-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(path, "abc");
        try
        {
            Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ScriptHashing.OfFile(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
