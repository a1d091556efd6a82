using Isola.Controllers;
using Isola.Plugins.StratoVirt.Controller;
using Isola.Plugins.StratoVirt.Vmm;
using Isola.Plugins.StratoVirt.Vmm.Vsock;
using Isola.Vmm;
using Microsoft.Extensions.Configuration;

namespace Isola.Plugins.StratoVirt.Tests.Controller;

/// <summary>Options are validated when the host starts, naming the bad key; the plugin registers what it provides.</summary>
public sealed class VmControllerOptionsTests : IAsyncLifetime
{
    private readonly VmHarness _harness = new("vm-opt");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private static Dictionary<string, string?> Minimal() => new()
    {
        ["Vmm"] = "qemu",
        ["Kernel"] = "/var/lib/isola/vmlinux",
    };

    [Theory]
    [InlineData("Vcpus", "0", "Vcpus")]
    [InlineData("MemoryMiB", "lots", "MemoryMiB")]
    [InlineData("Readiness", "ping", "Readiness")]
    [InlineData("AgentChannel", "carrier-pigeon", "AgentChannel")]
    [InlineData("StartTimeout", "-1", "StartTimeout")]
    [InlineData("Kernel", "relative/vmlinux", "Kernel")]
    [InlineData("HotplugSlots", "100", "HotplugSlots")]
    [InlineData("Vmm", "firecracker", "Vmm")]
    [InlineData("Vcpu", "2", "Vcpu")]
    public void A_bad_option_fails_naming_its_key(string key, string value, string named)
    {
        var options = Minimal();
        options[key] = value;

        var e = Assert.Throws<IsolaException>(() => _harness.CreateController(options));

        Assert.Equal(IsolaErrorCode.InvalidArgument, e.Code);
        Assert.Contains(named, e.Message);
        Assert.Contains(VmHarness.RuntimeName, e.Message);
    }

    [Fact]
    public void Runtime_details_name_the_VMM_machine_and_agent_channel()
    {
        var controller = _harness.CreateController(VmHarness.GuestOptions());

        var details = ((IReportsRuntimeDetails)controller).Details;

        Assert.Equal("qemu (/usr/bin/qemu-system-x86_64)", details["vmm"]);
        Assert.Equal("microvm", details["machine"]);
        Assert.Equal("virtio-serial (Unix socket)", details["agent"]);
    }

    [Fact]
    public void A_missing_kernel_option_is_named()
    {
        var e = Assert.Throws<IsolaException>(() => _harness.CreateController(new Dictionary<string, string?> { ["Vmm"] = "qemu" }));

        Assert.Contains($"Isola:Runtimes:{VmHarness.RuntimeName}:Options:Kernel", e.Message);
    }

    [Fact]
    public async Task Create_names_the_option_whose_file_is_missing_and_leaves_nothing()
    {
        var options = Minimal();
        options["Binary"] = TestPaths.RequireQemu();
        var controller = _harness.CreateController(options);
        var sandbox = _harness.NewSandbox("nofile");

        var e = await Assert.ThrowsAsync<IsolaException>(() => controller.CreateAsync(sandbox, CancellationToken.None));

        Assert.Equal(IsolaErrorCode.NotFound, e.Code);
        Assert.Contains("Options:Kernel = '/var/lib/isola/vmlinux'", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(sandbox.StateDirectory));
    }

    [Fact]
    public async Task Vsock_without_vhost_vsock_names_the_device_and_the_serial_alternative()
    {
        var options = VmHarness.GuestOptions();
        options["AgentChannel"] = "vsock";
        var controller = _harness.CreateController(options);
        var sandbox = _harness.NewSandbox("vsock1");
        Assert.False(VsockCidAllocator.IsAvailable(), "this test documents a host without /dev/vhost-vsock");

        var e = await Assert.ThrowsAsync<IsolaException>(() => controller.CreateAsync(sandbox, CancellationToken.None));

        Assert.Equal(IsolaErrorCode.FailedPrecondition, e.Code);
        Assert.Contains("/dev/vhost-vsock", e.Message);
        Assert.Contains("AgentChannel", e.Message);
        Assert.Contains("ttrpc+unix://", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(sandbox.StateDirectory));
    }

    [Fact]
    public async Task UpdateResources_accepts_limits_that_fit_the_VM_and_refuses_growth()
    {
        var controller = _harness.CreateController(VmHarness.GuestOptions());
        var sandbox = _harness.NewSandbox("res1");

        await controller.UpdateResourcesAsync(sandbox, new Isola.Controllers.UpdateResourcesRequest(null, new LinuxResources { MemoryLimitBytes = 128L << 20, CpuQuota = 50000, CpuPeriod = 100000 }), CancellationToken.None);
        await controller.UpdateResourcesAsync(sandbox, new Isola.Controllers.UpdateResourcesRequest("c1", new LinuxResources { MemoryLimitBytes = 1L << 40 }), CancellationToken.None);
        var memory = await Assert.ThrowsAsync<IsolaException>(() => controller.UpdateResourcesAsync(sandbox,
            new Isola.Controllers.UpdateResourcesRequest(null, new LinuxResources { MemoryLimitBytes = 1L << 30 }), CancellationToken.None));
        var cpu = await Assert.ThrowsAsync<IsolaException>(() => controller.UpdateResourcesAsync(sandbox,
            new Isola.Controllers.UpdateResourcesRequest(null, new LinuxResources { CpuQuota = 300000, CpuPeriod = 100000 }), CancellationToken.None));
        var platform = await controller.PlatformAsync(sandbox, CancellationToken.None);

        Assert.Contains("\"MemoryLimitBytes\":134217728", sandbox.ControllerData["vm.resources"]);
        Assert.Equal(IsolaErrorCode.FailedPrecondition, memory.Code);
        Assert.Contains("256 MiB", memory.Message);
        Assert.Equal(IsolaErrorCode.FailedPrecondition, cpu.Code);
        Assert.Equal(new PlatformInfo("linux", "amd64"), platform);
    }

    [Fact]
    public void The_CID_allocator_reports_a_missing_device_by_path()
    {
        var missing = Path.Combine(_harness.Root, "vhost-vsock");

        var e = Assert.Throws<IsolaException>(() => VsockCidAllocator.Allocate("s1", devicePath: missing));

        Assert.Contains(missing, e.Message);
        Assert.Contains("s1", e.Message);
    }

    [Fact]
    public void The_plugin_registers_both_VMMs_and_the_vm_controller()
    {
        var registry = new Registry();

        new StratoVirtPlugin().Register(registry);

        Assert.Equal(["stratovirt", "qemu"], registry.Vmms.Select(v => v.Name));
        Assert.Equal(["vm"], registry.Controllers.Select(c => c.Name));
        var attribute = (Isola.Plugins.IsolaPluginAttribute)Attribute.GetCustomAttribute(typeof(StratoVirtPlugin).Assembly, typeof(Isola.Plugins.IsolaPluginAttribute))!;
        Assert.Equal(typeof(StratoVirtPlugin), attribute.EntryType);
    }

    private sealed class Registry : Isola.Plugins.IPluginRegistry
    {
        public List<IVmm> Vmms { get; } = [];

        public List<ISandboxControllerFactory> Controllers { get; } = [];

        public void AddController(ISandboxControllerFactory factory) => Controllers.Add(factory);

        public void AddVmm(IVmm vmm) => Vmms.Add(vmm);

        public void AddExecutor(Isola.Executors.ITaskExecutor executor) => throw new InvalidOperationException("the plugin registers no executor");
    }
}
