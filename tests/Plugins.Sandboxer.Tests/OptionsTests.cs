using Isola.Controllers;
using Isola.Plugins.Sandboxer.Configuration;

namespace Isola.Plugins.Sandboxer.Tests;

/// <summary>Options are checked when the host starts, and a bad value names its key.</summary>
public sealed class OptionsTests
{
    [Theory]
    [InlineData("unix:///run/vmm-sandboxer.sock", "/run/vmm-sandboxer.sock")]
    [InlineData("/run/vmm-sandboxer.sock", "/run/vmm-sandboxer.sock")]
    [InlineData("UNIX:///run/x.sock", "/run/x.sock")]
    public void Address_accepts_unix_urls_and_bare_paths(string address, string path) =>
        Assert.Equal(path, SandboxerOptions.ParseAddress(address, "k"));

    [Theory]
    [InlineData("Address", null, "auto", null)]
    [InlineData("Address", "tcp://1.2.3.4:80", "auto", null)]
    [InlineData("Address", "run/relative.sock", "auto", null)]
    [InlineData("Api", "/run/x.sock", "v2", null)]
    [InlineData("Timeout", "/run/x.sock", "auto", "soon")]
    [InlineData("Timeout", "/run/x.sock", "auto", "-00:00:01")]
    public void A_bad_value_fails_naming_its_key(string key, string? address, string api, string? timeout)
    {
        var e = Assert.Throws<IsolaException>(() => ControllerHarness.Create(address!, api, timeout: timeout));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains("Isola:Runtimes:kuasar-vmm:Options:" + key, e.Message);
    }

    [Fact]
    public void A_socket_path_too_long_for_sun_path_is_refused()
    {
        var e = Assert.Throws<IsolaException>(() => ControllerHarness.Create("/" + new string('a', 120)));
        Assert.Contains("107 bytes", e.Message);
    }

    [Fact]
    public void Sandboxer_defaults_to_the_runtime_handler_name()
    {
        var controller = ControllerHarness.Create("/run/x.sock", sandboxer: "", runtimeName: "kuasar-vmm");
        Assert.Equal("kuasar-vmm", ((IReportsRuntimeDetails)controller).Details["sandboxer"]);
        Assert.Equal("v0 (configured)", ((IReportsRuntimeDetails)ControllerHarness.Create("/run/x.sock", api: "V0")).Details["api"]);
    }
}
