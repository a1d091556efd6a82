using Google.Protobuf;
using V0 = Isola.SandboxApi.V0;
using V1 = Isola.SandboxApi.V1;

namespace Isola.SandboxApi.Tests;

/// <summary>The field numbers of both generations, as protocols.md sections 1.2-1.4 and 8 record them upstream.</summary>
public sealed class FieldNumberTests
{
    [Fact]
    public void V1_requests_put_sandbox_id_at_1_and_sandboxer_at_10_except_Update_at_2()
    {
        var create = WireTags.Fields(new V1.ControllerCreateRequest { SandboxId = "s", Sandboxer = "vmm", NetnsPath = "/n" });
        Assert.Equal(("s", "vmm", "/n"), (create.Text(1), create.Text(10), create.Text(4)));

        var stop = WireTags.Fields(new V1.ControllerStopRequest { SandboxId = "s", TimeoutSecs = 7, Sandboxer = "vmm" });
        Assert.Equal(("s", 7ul, "vmm"), (stop.Text(1), stop.Varint(2), stop.Text(10)));

        var update = WireTags.Fields(new V1.ControllerUpdateRequest { SandboxId = "s", Sandboxer = "vmm", Fields = { "extensions.tasks" } });
        Assert.Equal(("s", "vmm", "extensions.tasks"), (update.Text(1), update.Text(2), update.Text(4)));
    }

    [Fact]
    public void V0_requests_put_sandboxer_at_1_and_sandbox_id_at_2()
    {
        var create = WireTags.Fields(new V0.ControllerCreateRequest { Sandboxer = "vmm", SandboxId = "s", NetnsPath = "/n" });
        Assert.Equal(("vmm", "s", "/n"), (create.Text(1), create.Text(2), create.Text(5)));

        var stop = WireTags.Fields(new V0.ControllerStopRequest { Sandboxer = "vmm", SandboxId = "s", TimeoutSecs = 7 });
        Assert.Equal(7ul, stop.Varint(3));

        var prepare = WireTags.Fields(new V0.PrepareRequest { Sandboxer = "vmm", SandboxId = "s", ContainerId = "c", ExecId = "e", Stdout = "o", Terminal = true });
        Assert.Equal(("c", "e", "o", 1ul), (prepare.Text(3), prepare.Text(4), prepare.Text(8), prepare.Varint(10)));
    }

    [Fact]
    public void Status_answers_cross_decode_silently_wrong_which_is_why_the_generation_must_be_known()
    {
        var v0 = new V0.ControllerStatusResponse { SandboxId = "s", State = SandboxStates.Ready, TaskAddress = "vsock://3:1024" };
        var fields = WireTags.Fields(v0);
        Assert.Equal("vsock://3:1024", fields.Text(4));
        var v1Answer = WireTags.Fields(new V1.ControllerStatusResponse { Address = "ttrpc+vsock://3:1024", Version = 2 });
        Assert.Equal(("ttrpc+vsock://3:1024", 2ul), (v1Answer.Text(8), v1Answer.Varint(9)));

        // v1 reads v0's task_address (field 4) as an entry of its info map: the bytes are no map entry, so the
        // answer is refused rather than decoded into an empty address.
        Assert.Throws<InvalidProtocolBufferException>(() => V1.ControllerStatusResponse.Parser.ParseFrom(v0.ToByteArray()));
    }

    [Fact]
    public void Sandbox_metadata_differs_between_generations()
    {
        var v1 = WireTags.Fields(new V1.Sandbox { SandboxId = "s", Sandboxer = "vmm", Labels = { ["a"] = "b" } });
        Assert.Equal("vmm", v1.Text(10));
        Assert.True(v1.ContainsKey(4));

        var v0 = WireTags.Fields(new V0.Sandbox { SandboxId = "s", Sandboxer = "vmm", Labels = { ["a"] = "b" } });
        Assert.Equal("vmm", v0.Text(4));
        Assert.True(v0.ContainsKey(5));
    }

    [Fact]
    public void PodSandboxConfig_uses_the_cri_api_numbers()
    {
        var config = new Cri.PodSandboxConfig
        {
            Metadata = new Cri.PodSandboxMetadata { Name = "n", Uid = "u", Namespace = "ns", Attempt = 3 },
            Hostname = "h",
            LogDirectory = "/l",
            DnsConfig = new Cri.DNSConfig { Servers = { "1.1.1.1" }, Searches = { "x" }, Options = { "ndots:2" } },
            PortMappings = { new Cri.PortMapping { Protocol = Cri.Protocol.Udp, ContainerPort = 53, HostPort = 5353, HostIp = "0.0.0.0" } },
            Linux = new Cri.LinuxPodSandboxConfig
            {
                CgroupParent = "/p",
                Overhead = new Cri.LinuxContainerResources { MemoryLimitInBytes = 1 },
                Resources = new Cri.LinuxContainerResources { CpuPeriod = 100000, CpuQuota = 50000, CpuShares = 2, MemoryLimitInBytes = 4096, CpusetCpus = "0" },
            },
        };
        var top = WireTags.Fields(config);
        Assert.Equal(("h", "/l"), (top.Text(2), top.Text(3)));
        var metadata = Decode(top[1].Single());
        Assert.Equal(("n", "u", "ns", 3ul), (metadata.Text(1), metadata.Text(2), metadata.Text(3), metadata.Varint(4)));
        var dns = Decode(top[4].Single());
        Assert.Equal(("1.1.1.1", "x", "ndots:2"), (dns.Text(1), dns.Text(2), dns.Text(3)));
        var port = Decode(top[5].Single());
        Assert.Equal((1ul, 53ul, 5353ul, "0.0.0.0"), (port.Varint(1), port.Varint(2), port.Varint(3), port.Text(4)));
        var linux = Decode(top[8].Single());
        Assert.Equal("/p", linux.Text(1));
        Assert.True(linux.ContainsKey(4));
        var resources = Decode(linux[5].Single());
        Assert.Equal((100000ul, 50000ul, 2ul, 4096ul, "0"),
            (resources.Varint(1), resources.Varint(2), resources.Varint(3), resources.Varint(4), resources.Text(6)));
    }

    private static Dictionary<int, List<byte[]>> Decode(byte[] nested) => WireTags.Fields(nested);
}
