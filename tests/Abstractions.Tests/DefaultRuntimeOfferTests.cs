using Isola.Controllers;

namespace Isola.Abstractions.Tests;

public sealed class DefaultRuntimeOfferTests
{
    private sealed class OlderFactory : ISandboxControllerFactory
    {
        public string Name => "older";

        public ISandboxController Create(ControllerContext context) => throw new NotSupportedException();
    }

    [Fact]
    public void A_factory_that_does_not_implement_it_offers_nothing() =>
        Assert.Null(((ISandboxControllerFactory)new OlderFactory()).DefaultRuntime);

    [Fact]
    public void An_offer_without_options_has_an_empty_set()
    {
        var offer = new DefaultRuntimeOffer("runc");
        Assert.Equal("runc", offer.Name);
        Assert.Empty(offer.Options);
    }
}
