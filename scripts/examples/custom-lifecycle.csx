// custom-lifecycle: every step of a pod's life spelled out.
//   1. create the sandbox (state Created), then start it
//   2. run a server container and probe its readiness with retries and backoff
//   3. stop it gracefully with a deadline; force it (SIGKILL) when the deadline passes
//   4. stop the sandbox gracefully with a deadline; shut it down forcibly when that fails
//   isola run scripts/examples/custom-lifecycle.csx [-- RUNTIME]
#load "lib/busybox.csx"

var runtime = Args.FirstOrDefault();
var rootfs = Using(BusyboxRootfs.Create());

// 1. Create, then start: the Sandbox API's two steps. ToScoped() removes the pod however the script ends.
var pod = Using((await Isola.Sandboxes.CreateAsync(new SandboxSpec { Runtime = runtime }, Ct)).ToScoped());
Log.LogInformation("sandbox {Id} is {State}", pod.Id, pod.Info.State);
await pod.StartAsync(Ct);
Log.LogInformation("sandbox {Id} is {State}", pod.Id, (await pod.InspectAsync(Ct)).State);

// 2. A "server" that becomes ready after a second. As PID 1 it ignores SIGTERM, so step 3 has to force it.
var server = await pod.Containers.RunAsync(new ContainerSpec
{
    Rootfs = rootfs.Path,
    Args = ["/bin/busybox", "sh", "-c", "sleep 1; touch /tmp/ready; exec /bin/busybox sleep 3600"],
}, Ct);

var delay = TimeSpan.FromMilliseconds(200);
for (var attempt = 1; ; attempt++)
{
    var probe = await server.ExecAsync(new ExecSpec { Args = ["/bin/busybox", "test", "-f", "/tmp/ready"] }, Ct);
    if (probe.Code == 0)
    {
        Log.LogInformation("server ready after {Attempts} probe(s)", attempt);
        break;
    }

    if (attempt == 8)
    {
        throw new TimeoutException($"container {server.Id} never became ready");
    }

    await Task.Delay(delay, Ct);
    delay *= 2;
}

// 3. Graceful stop with a deadline: SIGTERM, then SIGKILL after 2 s (StopAsync's own escalation); if even that
// does not finish within 10 s, kill every process in the container ourselves.
using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct))
{
    deadline.CancelAfter(TimeSpan.FromSeconds(10));
    try
    {
        await server.StopAsync(TimeSpan.FromSeconds(2), deadline.Token);
    }
    catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
    {
        Log.LogWarning("container {Id} missed its stop deadline; killing it", server.Id);
        await server.KillAsync(9, all: true, Ct);
    }
}

var exit = await server.WaitAsync(Ct);
Log.LogInformation("server exited with {Code}{How}", exit.Code, exit.Code == 137 ? " (forced: it ignored SIGTERM)" : "");
await server.DeleteAsync(cancellationToken: Ct);

// 4. Graceful sandbox stop with a deadline; on timeout or error, shut it down forcibly (Remove).
try
{
    using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
    deadline.CancelAfter(TimeSpan.FromSeconds(15));
    await pod.StopAsync(TimeSpan.FromSeconds(5), deadline.Token);
    Log.LogInformation("sandbox {Id} stopped gracefully", pod.Id);
}
catch (Exception e) when (e is OperationCanceledException or IsolaException && !Ct.IsCancellationRequested)
{
    Log.LogWarning("sandbox {Id} did not stop in time ({Error}); forcing shutdown", pod.Id, e.Message);
}

await pod.RemoveAsync(Ct);
Log.LogInformation("sandbox {Id} removed", pod.Id);
return 0;
