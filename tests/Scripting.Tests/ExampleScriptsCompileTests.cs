using Isola.TestSupport;

namespace Isola.Scripting.Tests;

/// <summary>Every example in scripts/examples compiles against the public API without warnings (they run for real in
/// Integration.Tests/Scripting).</summary>
public sealed class ExampleScriptsCompileTests
{
    public static TheoryData<string> Examples() => new(Directory.GetFiles(RepoPaths.Examples, "*.csx").Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(Examples))]
    public void Example_compiles_cleanly(string name)
    {
        var path = Path.Combine(RepoPaths.Examples, name);
        var compiled = RoslynScriptCompiler.Create().Compile(new ScriptSource(path, File.ReadAllText(path)), [], default);

        Assert.True(compiled.Diagnostics.Count == 0, string.Join('\n', compiled.Diagnostics));
        Assert.NotNull(compiled.Image);
        Assert.Contains(compiled.Sources, s => s.Path.EndsWith("lib/busybox.csx", StringComparison.Ordinal));
    }

    [Fact]
    public void The_four_documented_examples_exist()
    {
        foreach (var name in new[] { "hello-sandbox.csx", "parallel-pods.csx", "custom-lifecycle.csx", "kuasar-vm.csx" })
        {
            Assert.True(File.Exists(Path.Combine(RepoPaths.Examples, name)), name);
        }
    }
}
