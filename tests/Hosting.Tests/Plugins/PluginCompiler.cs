using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Isola.Hosting.Tests.Plugins;

/// <summary>Compiles small plugin assemblies with Roslyn into plugin folders, so loader tests need no dotnet build.</summary>
internal static class PluginCompiler
{
    private static readonly Lazy<List<MetadataReference>> Framework = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
        .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "netstandard.dll" or "mscorlib.dll")
        .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList());

    /// <summary>The host's real contract assemblies.</summary>
    public static IEnumerable<MetadataReference> Contracts =>
    [
        MetadataReference.CreateFromFile(typeof(Isola.Plugins.IIsolaPlugin).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(Microsoft.Extensions.Configuration.IConfiguration).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(Microsoft.Extensions.Logging.ILogger).Assembly.Location),
    ];

    /// <summary>Compiles <paramref name="source"/> into an assembly image.</summary>
    public static byte[] Compile(string assemblyName, string source, IEnumerable<MetadataReference> references)
    {
        var compilation = CSharpCompilation.Create(assemblyName, [CSharpSyntaxTree.ParseText(source)],
            [.. Framework.Value, .. references], new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        using var stream = new MemoryStream();
        var result = compilation.Emit(stream);
        if (!result.Success)
        {
            throw new InvalidOperationException(string.Join(Environment.NewLine, result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        }

        return stream.ToArray();
    }

    /// <summary>Compiles a plugin into <c>&lt;pluginsDir&gt;/&lt;name&gt;/&lt;name&gt;.dll</c> and returns the folder.</summary>
    public static string Drop(string pluginsDir, string name, string source, IEnumerable<MetadataReference>? references = null)
    {
        var folder = Path.Combine(pluginsDir, name);
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, name + ".dll"), Compile(name, source, references ?? Contracts));
        return folder;
    }

    /// <summary>A plugin registering a controller named <paramref name="controller"/> that runs sandboxes in memory.</summary>
    public static string ControllerPlugin(string pluginName, string controller) => $$"""
        using System;
        using System.Threading;
        using System.Threading.Tasks;
        using Isola;
        using Isola.Controllers;
        using Isola.Plugins;
        [assembly: IsolaPlugin(typeof(Dropped.Entry))]
        namespace Dropped;
        public sealed class Entry : IIsolaPlugin
        {
            public string Name => "{{pluginName}}";
            public void Register(IPluginRegistry registry) => registry.AddController(new Factory());
        }
        sealed class Factory : ISandboxControllerFactory
        {
            public string Name => "{{controller}}";
            public ISandboxController Create(ControllerContext context) => new Controller();
        }
        sealed class Controller : ISandboxController
        {
            public Task CreateAsync(SandboxContext s, CancellationToken ct) { s.ControllerData["by"] = "{{pluginName}}"; return Task.CompletedTask; }
            public Task<ControllerStartResult> StartAsync(SandboxContext s, CancellationToken ct) => Task.FromResult(new ControllerStartResult(1, DateTimeOffset.UtcNow, "unix:///nowhere", 2));
            public Task<PlatformInfo> PlatformAsync(SandboxContext s, CancellationToken ct) => Task.FromResult(new PlatformInfo("linux", "amd64"));
            public Task<PrepareResult> PrepareAsync(SandboxContext s, PrepareRequest r, CancellationToken ct) => throw new NotSupportedException();
            public Task PurgeAsync(SandboxContext s, PurgeRequest r, CancellationToken ct) => Task.CompletedTask;
            public Task UpdateResourcesAsync(SandboxContext s, UpdateResourcesRequest r, CancellationToken ct) => Task.CompletedTask;
            public Task StopAsync(SandboxContext s, TimeSpan t, CancellationToken ct) => Task.CompletedTask;
            public Task<ExitStatus> WaitAsync(SandboxContext s, CancellationToken ct) => Task.Delay(Timeout.Infinite, ct).ContinueWith(_ => new ExitStatus(0, DateTimeOffset.UtcNow));
            public Task<ControllerStatus> StatusAsync(SandboxContext s, bool v, CancellationToken ct) => Task.FromResult(new ControllerStatus { Ready = true });
            public Task ShutdownAsync(SandboxContext s, CancellationToken ct) => Task.CompletedTask;
        }
        """;
}
