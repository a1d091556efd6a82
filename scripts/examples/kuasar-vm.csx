// kuasar-vm: the hello workflow on a Kuasar runtime handler (a VM sandbox behind a sandboxer speaking the
// Sandbox API). Configure the handler first, for example:
//   "kuasar-vmm": { "Controller": "sandboxer", "Options": { "Address": "unix:///run/vmm-sandboxer.sock", "Sandboxer": "vmm" } }
//   isola run scripts/examples/kuasar-vm.csx [-- RUNTIME]      (RUNTIME defaults to kuasar-vmm)
#load "lib/busybox.csx"

var runtime = Args.FirstOrDefault() ?? "kuasar-vmm";
var handler = Isola.Runtimes.FirstOrDefault(r => r.Name == runtime)
    ?? throw new IsolaException(IsolaErrorCode.NotFound,
        $"runtime '{runtime}' is not configured (known: {string.Join(", ", Isola.Runtimes.Select(r => r.Name))})");
Log.LogInformation("runtime {Runtime}: controller {Controller} {Details}", handler.Name, handler.Controller,
    string.Join(" ", handler.Details.Select(d => $"{d.Key}={d.Value}")));

return await HelloAsync(runtime);
