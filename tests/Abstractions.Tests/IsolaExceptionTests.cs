namespace Isola.Abstractions.Tests;

public sealed class IsolaExceptionTests
{
    [Fact]
    public void Codes_mirror_grpc_status_codes()
    {
        Assert.Equal(
            [(IsolaErrorCode.Cancelled, 1), (IsolaErrorCode.Unknown, 2), (IsolaErrorCode.InvalidArgument, 3), (IsolaErrorCode.DeadlineExceeded, 4),
             (IsolaErrorCode.NotFound, 5), (IsolaErrorCode.AlreadyExists, 6), (IsolaErrorCode.ResourceExhausted, 8),
             (IsolaErrorCode.FailedPrecondition, 9), (IsolaErrorCode.Unimplemented, 12), (IsolaErrorCode.Internal, 13), (IsolaErrorCode.Unavailable, 14)],
            Enum.GetValues<IsolaErrorCode>().OrderBy(c => (int)c).Select(c => (c, (int)c)));
    }

    [Fact]
    public void Shorthands_set_code_message_and_inner()
    {
        var inner = new IOException("socket closed");
        var e = IsolaException.Unavailable("sandbox 'a': shim at /run/s.sock", inner);
        Assert.Equal((IsolaErrorCode.Unavailable, "sandbox 'a': shim at /run/s.sock", inner), (e.Code, e.Message, e.InnerException));
        Assert.Equal(IsolaErrorCode.NotFound, IsolaException.NotFound("x").Code);
        Assert.Equal(IsolaErrorCode.AlreadyExists, IsolaException.AlreadyExists("x").Code);
        Assert.Equal(IsolaErrorCode.FailedPrecondition, IsolaException.FailedPrecondition("x").Code);
        Assert.Equal(IsolaErrorCode.DeadlineExceeded, IsolaException.DeadlineExceeded("x").Code);
        Assert.Equal(IsolaErrorCode.Internal, IsolaException.Internal("x").Code);
        Assert.Equal(IsolaErrorCode.InvalidArgument, IsolaException.InvalidArgument("x").Code);
    }

    [Fact]
    public void IsNotFound_is_true_only_for_NotFound_isola_errors()
    {
        Assert.True(IsolaException.IsNotFound(IsolaException.NotFound("gone")));
        Assert.False(IsolaException.IsNotFound(IsolaException.Unavailable("down")));
        Assert.False(IsolaException.IsNotFound(new FileNotFoundException("gone")));
    }

    [Fact]
    public void Mount_bind_helper_uses_rbind_with_ro_or_rw()
    {
        Assert.Equal(["rbind", "ro"], Mount.Bind("/a", "/b", readOnly: true).Options);
        Assert.Equal(["rbind", "rw"], Mount.Bind("/a", "/b").Options);
        Assert.Equal(("bind", "/a", "/b"), (Mount.Bind("/a", "/b").Type, Mount.Bind("/a", "/b").Source, Mount.Bind("/a", "/b").Destination));
    }
}
