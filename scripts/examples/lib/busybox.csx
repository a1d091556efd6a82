// Helpers shared by the example workflows (pulled in with #load "lib/busybox.csx").

/// A throw-away root filesystem holding a static busybox (Debian: busybox-static). Deleted when disposed.
sealed class BusyboxRootfs : IAsyncDisposable
{
    public string Path { get; }

    private BusyboxRootfs(string path) => Path = path;

    public static BusyboxRootfs Create()
    {
        var busybox = new[] { "/bin/busybox", "/usr/bin/busybox" }.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException("busybox not found: install busybox-static");
        var root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "isola-rootfs-" + Guid.NewGuid().ToString("N")[..12]);
        foreach (var dir in new[] { "bin", "proc", "sys", "dev", "tmp", "etc" })
        {
            Directory.CreateDirectory(System.IO.Path.Combine(root, dir));
        }

        File.Copy(busybox, System.IO.Path.Combine(root, "bin", "busybox"));
        File.CreateSymbolicLink(System.IO.Path.Combine(root, "bin", "sh"), "busybox");
        return new BusyboxRootfs(root);
    }

    public ValueTask DisposeAsync()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }

        return ValueTask.CompletedTask;
    }
}

/// What a container wrote to stdout, when its stdout is a file (the default for pause-container sandboxes).
static async Task<string> ReadStdoutAsync(IContainer container, CancellationToken ct)
{
    var stdout = container.Info.Stdio.Stdout;
    var path = stdout.StartsWith("file://", StringComparison.Ordinal) ? new Uri(stdout).LocalPath : stdout;
    return path.Length > 0 && File.Exists(path) ? await File.ReadAllTextAsync(path, ct) : "";
}

/// The hello workflow: a sandbox on RUNTIME, one busybox container printing a line, teardown.
async Task<int> HelloAsync(string? runtime)
{
    await using var rootfs = BusyboxRootfs.Create();
    await using var pod = await Isola.Sandboxes.RunScopedAsync(new SandboxSpec { Runtime = runtime }, Ct);
    Log.LogInformation("sandbox {Id} ready on runtime {Runtime} (pid {Pid})", pod.Id, pod.Info.Runtime, pod.Info.Pid);

    var container = await pod.Containers.RunAsync(new ContainerSpec
    {
        Rootfs = rootfs.Path,
        Args = ["/bin/busybox", "echo", $"hello from sandbox {pod.Id}"],
    }, Ct);
    var exit = await container.WaitAsync(Ct);
    Console.Write(await ReadStdoutAsync(container, Ct));
    await container.DeleteAsync(cancellationToken: Ct);
    Log.LogInformation("container {Id} exited with {Code}; tearing down", container.Id, exit.Code);
    return (int)exit.Code;
}
