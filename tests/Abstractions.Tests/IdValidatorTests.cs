namespace Isola.Abstractions.Tests;

public sealed class IdValidatorTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("web-1")]
    [InlineData("A_b.c-D")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123")]
    public void Valid_ids(string id)
    {
        Assert.True(IdValidator.IsValid(id));
        Assert.Equal(id, IdValidator.Validate(id, "sandbox"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("../x")]
    [InlineData("a/b")]
    [InlineData("-rf")]
    [InlineData(".hidden")]
    [InlineData("with space")]
    [InlineData("tab\t")]
    [InlineData("ünïcode")]
    [InlineData("a\0b")]
    [InlineData("01234567890123456789012345678901234567890123456789012345678901234")]
    public void Invalid_ids_are_refused_naming_the_id_and_kind(string? id)
    {
        Assert.False(IdValidator.IsValid(id));
        var e = Assert.Throws<IsolaException>(() => IdValidator.Validate(id, "container"));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains($"invalid container id '{id}'", e.Message);
    }
}
