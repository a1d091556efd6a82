using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.Configuration;

/// <summary>Runtime names follow configuration's case rules: ISOLA__RUNTIMES__KATA__CONTROLLER configures "KATA",
/// and "kata" must select it.</summary>
public sealed class RuntimeNameTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    [Fact]
    public async Task A_runtime_configured_in_upper_case_is_selected_by_its_lower_case_name()
    {
        await using var host = await _t.StartAsync(
            ("Isola:DefaultRuntime", "kata"),
            ("Isola:Runtimes:KATA:Controller", "fake"));

        var sandbox = await host.Sandboxes.RunAsync(new SandboxSpec { Runtime = "Kata" });

        Assert.Equal(SandboxState.Ready, sandbox.Info.State);
        Assert.Equal("KATA", sandbox.Info.Runtime); // the record keeps the configured spelling
        Assert.Contains(host.Runtimes, r => r.Name == "KATA" && r.IsDefault);
        await sandbox.RemoveAsync();
    }
}
