// vm-sandbox: a busybox container in a microVM. The `vm` controller boots QEMU (or StratoVirt) with the guest that
// scripts/guest/build-guest makes; isola-agent, the guest's init, runs the container with runc inside the VM; its
// output comes back to the host through the shared directory.
//   scripts/run-example scripts/examples/vm-sandbox.csx    (builds the guest and configures the qemu-vm runtime)
//   isola run scripts/examples/vm-sandbox.csx [-- RUNTIME] (RUNTIME: a runtime whose controller is vm; default qemu-vm)
// requires: vm-guest
#load "lib/busybox.csx"

var runtime = Args.FirstOrDefault() ?? "qemu-vm";
var handler = Isola.Runtimes.FirstOrDefault(r => r.Name == runtime)
    ?? throw new IsolaException(IsolaErrorCode.NotFound,
        $"runtime '{runtime}' is not configured (known: {string.Join(", ", Isola.Runtimes.Select(r => r.Name))}); docs/vm.md shows a qemu-vm runtime");
if (handler.Controller != "vm")
{
    throw new IsolaException(IsolaErrorCode.InvalidArgument, $"runtime '{runtime}' uses controller '{handler.Controller}', not vm");
}

return await RunAsync(runtime);

async Task<int> RunAsync(string runtime)
{
    await using var rootfs = BusyboxRootfs.Create();
    await using var pod = await Isola.Sandboxes.RunScopedAsync(new SandboxSpec { Runtime = runtime }, Ct);
    Log.LogInformation("sandbox {Id} ready: VMM pid {Pid}, agent at {Address}", pod.Id, pod.Info.Pid, pod.Info.TaskAddress);

    var container = await pod.Containers.RunAsync(new ContainerSpec
    {
        Rootfs = rootfs.Path,
        Args = ["/bin/busybox", "sh", "-c", "echo \"hello from a microVM: kernel $(/bin/busybox uname -r), host kernel differs\""],
    }, Ct);
    var exit = await container.WaitAsync(Ct);
    Console.Write(await ReadStdoutAsync(container, Ct));
    await container.DeleteAsync(cancellationToken: Ct);
    Log.LogInformation("container {Id} exited with {Code}; tearing the VM down", container.Id, exit.Code);
    return (int)exit.Code;
}
