using Isola.Images.References;

namespace Isola.Images.Tests;

public sealed class ImageReferenceTests
{
    [Theory]
    [InlineData("busybox", "docker.io/library/busybox:latest")]
    [InlineData("busybox:1.36", "docker.io/library/busybox:1.36")]
    [InlineData("library/busybox", "docker.io/library/busybox:latest")]
    [InlineData("docker.io/busybox", "docker.io/library/busybox:latest")]
    [InlineData("index.docker.io/library/busybox:1", "docker.io/library/busybox:1")]
    [InlineData("user/app", "docker.io/user/app:latest")]
    [InlineData("localhost:5000/app", "localhost:5000/app:latest")]
    [InlineData("localhost/app:v1", "localhost/app:v1")]
    [InlineData("127.0.0.1:5000/team/app:v1.2-rc_3", "127.0.0.1:5000/team/app:v1.2-rc_3")]
    [InlineData("quay.io/coreos/etcd", "quay.io/coreos/etcd:latest")]
    [InlineData("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9")]
    [InlineData("busybox@sha256:1111111111111111111111111111111111111111111111111111111111111111", "docker.io/library/busybox@sha256:1111111111111111111111111111111111111111111111111111111111111111")]
    [InlineData("busybox:1@sha256:1111111111111111111111111111111111111111111111111111111111111111", "docker.io/library/busybox:1@sha256:1111111111111111111111111111111111111111111111111111111111111111")]
    public void References_are_normalised_as_the_ecosystem_does(string text, string expected)
    {
        Assert.Equal(expected, ImageReference.Parse(text).ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("Busybox")]
    [InlineData("busybox:")]
    [InlineData("busybox:-bad")]
    [InlineData("busybox@sha256:abc")]
    [InlineData("busybox@md5:1111111111111111111111111111111111111111111111111111111111111111")]
    [InlineData("a//b")]
    [InlineData("../etc/passwd")]
    [InlineData("app/")]
    [InlineData("bad_host:5000:x/app")]
    public void Malformed_references_are_refused_with_a_message_naming_them(string text)
    {
        var e = Assert.Throws<IsolaException>(() => ImageReference.Parse(text));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains($"'{text}'", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_digest_reference_keeps_no_default_tag()
    {
        var r = ImageReference.Parse("localhost:5000/app@sha256:" + new string('a', 64));
        Assert.Null(r.Tag);
        Assert.Equal("localhost:5000", r.Registry);
        Assert.Equal("app", r.Repository);
        Assert.Equal(new string('a', 64), r.Digest!.Value.Hex);
    }
}
