using Isola.Hosting.Tests.Doubles;

namespace Isola.Hosting.Tests.Sandboxes;

/// <summary>Bad ids, names and runtimes are refused with one message naming them, before any side effect.</summary>
public sealed class SpecValidationTests : IDisposable
{
    private readonly TestRoot _t = new();

    public void Dispose() => _t.Dispose();

    [Theory]
    [InlineData("../etc")]
    [InlineData("a/b")]
    [InlineData(".hidden")]
    [InlineData("-x")]
    [InlineData("")]
    [InlineData("sp ace")]
    public async Task Invalid_ids_are_refused_naming_them_before_any_side_effect(string id)
    {
        await using var host = await _t.StartAsync();
        var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = id }));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains($"'{id}'", e.Message);
        Assert.Equal(0, _t.Controller.Calls("Create"));
        Assert.DoesNotContain(Directory.EnumerateDirectories(_t.Root), d => !Path.GetFileName(d).StartsWith('.'));
    }

    [Theory]
    [InlineData("not-an-ip")]
    [InlineData("10")]
    [InlineData("10.1")]
    public async Task DNS_servers_that_are_not_IP_addresses_are_refused_through_the_API_too(string server)
    {
        await using var host = await _t.StartAsync();
        var e = await Assert.ThrowsAsync<IsolaException>(() =>
            host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1", DnsServers = ["1.1.1.1", server] }));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains($"'{server}'", e.Message);
        Assert.Contains("'sb1'", e.Message);
        Assert.Equal(0, _t.Controller.Calls("Create"));
        await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb2", DnsServers = ["1.1.1.1", "fd00::53"] });
    }

    [Theory]
    [InlineData("1.1.1.1", true)]
    [InlineData("fd00::53", true)]
    [InlineData("::1", true)]
    [InlineData("10", false)]
    [InlineData("10.1", false)]
    [InlineData("dns.example", false)]
    [InlineData("", false)]
    public void The_public_nameserver_rule_is_the_one_sandbox_creation_applies(string value, bool valid) =>
        Assert.Equal(valid, Hosting.SandboxSpecRules.IsNameserver(value));

    [Fact]
    public async Task Too_long_ids_are_refused()
    {
        await using var host = await _t.StartAsync();
        var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = new string('a', 65) }));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
    }

    [Fact]
    public async Task Ids_and_names_are_unique()
    {
        await using var host = await _t.StartAsync();
        await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1", Name = "web" });
        var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" }));
        Assert.Equal(IsolaErrorCode.AlreadyExists, e.Code);
        e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb2", Name = "web" }));
        Assert.Equal(IsolaErrorCode.AlreadyExists, e.Code);
        Assert.Contains("'web'", e.Message);
        Assert.Contains("'sb1'", e.Message);
        e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Id = "web" }));
        Assert.Equal(IsolaErrorCode.AlreadyExists, e.Code);
        Assert.Equal(1, _t.Controller.Calls("Create"));
    }

    [Fact]
    public async Task Unknown_runtime_is_refused_naming_it_and_the_configured_ones()
    {
        await using var host = await _t.StartAsync();
        var e = await Assert.ThrowsAsync<IsolaException>(() => host.Sandboxes.RunAsync(new SandboxSpec { Runtime = "kata" }));
        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains("'kata'", e.Message);
        Assert.Contains("fake", e.Message);
    }
}
