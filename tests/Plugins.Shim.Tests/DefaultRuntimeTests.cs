using Isola.Controllers;
using Isola.Plugins.Shim.Controller;

namespace Isola.Plugins.Shim.Tests;

/// <summary>What a fresh install runs on: the host builds the runtime the shim controller offers.</summary>
public sealed class DefaultRuntimeTests
{
    [Fact]
    public void The_shim_controller_offers_runc_with_every_option_at_its_default()
    {
        ISandboxControllerFactory factory = new ShimControllerFactory();

        var offer = Assert.IsType<DefaultRuntimeOffer>(factory.DefaultRuntime);
        Assert.Equal("runc", offer.Name);
        Assert.Empty(offer.Options);
    }
}
