// parallel-pods: N pods at once (default 3), each running one busybox container; progress on stderr.
//   isola run scripts/examples/parallel-pods.csx [-- N [RUNTIME]]
// Every pod is scoped: when one fails or Ctrl+C arrives, all of them are stopped and removed.
#load "lib/busybox.csx"

var count = Args.Length > 0 ? int.Parse(Args[0]) : 3;
var runtime = Args.Length > 1 ? Args[1] : null;
var ready = 0;
var finished = 0;

void Progress(string what) => Console.Error.WriteLine($"[{ready}/{count} ready, {finished}/{count} done] {what}");

async Task<uint> RunPodAsync(int index)
{
    await using var rootfs = BusyboxRootfs.Create();
    await using var pod = await Isola.Sandboxes.RunScopedAsync(new SandboxSpec { Runtime = runtime, Labels = new Dictionary<string, string> { ["example"] = "parallel-pods" } }, Ct);
    Interlocked.Increment(ref ready);
    Progress($"pod {index} ({pod.Id}) ready");

    var container = await pod.Containers.RunAsync(new ContainerSpec
    {
        Rootfs = rootfs.Path,
        Args = ["/bin/busybox", "sh", "-c", $"echo pod {index} on $(hostname)"],
    }, Ct);
    var exit = await container.WaitAsync(Ct);
    Console.Write(await ReadStdoutAsync(container, Ct));
    Interlocked.Increment(ref finished);
    Progress($"pod {index} ({pod.Id}) finished with {exit.Code}");
    return exit.Code;
}

var started = Stopwatch.StartNew();
var codes = await Task.WhenAll(Enumerable.Range(0, count).Select(RunPodAsync));
Console.Error.WriteLine($"{count} pods in {started.Elapsed.TotalSeconds:F1} s");
return codes.All(c => c == 0) ? 0 : 1;
