namespace Isola.Abstractions.Tests;

public sealed class IsolaErrorCodesTests
{
    [Fact]
    public void Every_code_round_trips_through_its_grpc_number()
    {
        foreach (var code in Enum.GetValues<IsolaErrorCode>())
        {
            Assert.Equal((int)code, IsolaErrorCodes.ToGrpc(code));
            Assert.Equal(code, IsolaErrorCodes.FromGrpc(IsolaErrorCodes.ToGrpc(code)));
        }
    }

    [Theory]
    [InlineData(7, IsolaErrorCode.FailedPrecondition)] // PERMISSION_DENIED
    [InlineData(10, IsolaErrorCode.FailedPrecondition)] // ABORTED
    [InlineData(16, IsolaErrorCode.FailedPrecondition)] // UNAUTHENTICATED
    [InlineData(11, IsolaErrorCode.InvalidArgument)] // OUT_OF_RANGE
    [InlineData(15, IsolaErrorCode.Internal)] // DATA_LOSS
    [InlineData(0, IsolaErrorCode.Unknown)] // OK is no error code
    [InlineData(99, IsolaErrorCode.Unknown)]
    public void Grpc_codes_without_an_isola_name_fold_into_the_nearest(int grpc, IsolaErrorCode expected) =>
        Assert.Equal(expected, IsolaErrorCodes.FromGrpc(grpc));

    [Fact]
    public void An_undefined_code_is_sent_as_unknown() =>
        Assert.Equal(2, IsolaErrorCodes.ToGrpc((IsolaErrorCode)42));
}
