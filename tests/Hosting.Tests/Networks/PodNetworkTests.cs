using Isola.Hosting.Networks;

namespace Isola.Hosting.Tests.Networks;

/// <summary>Pod networks over Debian's real CNI plugins (bridge, host-local, portmap) in real network namespaces.</summary>
public sealed class PodNetworkTests : IDisposable
{
    private readonly CniWorld _w = new();
    private readonly List<SandboxId> _pods = [];

    public void Dispose()
    {
        foreach (var pod in _pods)
        {
            _w.Networks.TearDownAsync(pod, CancellationToken.None).GetAwaiter().GetResult();
        }

        _w.Dispose();
    }

    private SandboxId Pod(string name)
    {
        SandboxId id = $"{name}-{Guid.NewGuid().ToString("N")[..8]}";
        _pods.Add(id);
        return id;
    }

    [Fact]
    public async Task Two_pods_get_addresses_on_the_network_and_reach_each_other()
    {
        var a = Pod("a");
        var b = Pod("b");
        var ra = await _w.Networks.SetUpAsync(a, null, [], CancellationToken.None);
        var rb = await _w.Networks.SetUpAsync(b, null, [], CancellationToken.None);

        var ipA = Assert.Single(ra.Addresses);
        Assert.StartsWith(_w.Subnet + ".", ipA, StringComparison.Ordinal);
        Assert.StartsWith(_w.Subnet + ".", Assert.Single(rb.Addresses), StringComparison.Ordinal);
        Assert.NotEqual(ipA, rb.Addresses[0]);
        using var server = _w.Serve(a, 8080, "from a");
        try
        {
            Assert.Equal("from a", _w.Fetch(b, $"http://{ipA}:8080/hello"));
        }
        finally
        {
            server.Kill();
        }
    }

    [Fact]
    public async Task A_published_port_is_reachable_from_the_host_on_loopback()
    {
        var a = Pod("pub");
        var hostPort = 20000 + Random.Shared.Next(20000);
        await _w.Networks.SetUpAsync(a, null, [new PortMapping(hostPort, 8080)], CancellationToken.None);
        using var server = _w.Serve(a, 8080, "published");
        try
        {
            Assert.Equal("published", _w.Fetch(null, $"http://127.0.0.1:{hostPort}/hello"));
        }
        finally
        {
            server.Kill();
        }
    }

    [Fact]
    public async Task Teardown_leaves_no_namespace_bridge_port_rule_or_address_and_runs_twice_safely()
    {
        var a = Pod("gone");
        await _w.Networks.SetUpAsync(a, null, [new PortMapping(20000 + Random.Shared.Next(20000), 80)], CancellationToken.None);
        Assert.NotEmpty(CniWorld.RulesMentioning(a.Value));
        Assert.Single(_w.BridgePorts());
        Assert.NotEmpty(_w.Allocations(a.Value));

        await _w.Networks.TearDownAsync(a, CancellationToken.None);
        await _w.Networks.TearDownAsync(a, CancellationToken.None);

        Assert.False(NetworkNamespace.Exists(_w.Networks.NamespaceName(a)));
        Assert.Empty(_w.BridgePorts());
        Assert.Empty(CniWorld.RulesMentioning(a.Value));
        Assert.Empty(_w.Allocations(a.Value));
        Assert.Null(_w.Networks.Read(a));
    }

    [Fact]
    public async Task A_host_restarted_after_a_crash_tears_down_what_the_record_names()
    {
        var a = Pod("crash");
        await _w.Networks.SetUpAsync(a, null, [new PortMapping(20000 + Random.Shared.Next(20000), 80)], CancellationToken.None);

        // The host that set it up is gone; a new one finds the record and undoes everything.
        var restarted = _w.Open();
        Assert.Contains(a, restarted.RecordedSandboxes());
        await restarted.TearDownAsync(a, CancellationToken.None);

        Assert.False(NetworkNamespace.Exists(_w.Networks.NamespaceName(a)));
        Assert.Empty(CniWorld.RulesMentioning(a.Value));
        Assert.Empty(_w.Allocations(a.Value));
        Assert.Empty(restarted.RecordedSandboxes());
    }

    [Fact]
    public async Task A_failed_add_undoes_itself_and_names_the_plugin()
    {
        var a = Pod("fail");
        File.WriteAllText(Path.Combine(_w.ConfigDir, "20-broken.conflist"),
            """{ "cniVersion": "1.0.0", "name": "broken", "plugins": [ { "type": "bridge", "bridge": "x", "ipam": { "type": "no-such-ipam" } } ] }""");

        var e = await Assert.ThrowsAsync<IsolaException>(() => _w.Networks.SetUpAsync(a, "broken", [], CancellationToken.None));

        Assert.Contains("plugin bridge", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(NetworkNamespace.Exists(_w.Networks.NamespaceName(a)));
        Assert.Null(_w.Networks.Read(a));
    }

    [Fact]
    public async Task An_unknown_network_is_not_found_and_makes_nothing()
    {
        var a = Pod("unknown");

        var e = await Assert.ThrowsAsync<IsolaException>(() => _w.Networks.SetUpAsync(a, "nope", [], CancellationToken.None));

        Assert.Equal(IsolaErrorCode.NotFound, e.Code);
        Assert.Contains("'nope'", e.Message, StringComparison.Ordinal);
        Assert.False(NetworkNamespace.Exists(_w.Networks.NamespaceName(a)));
    }
}
