using Isola.Scripting;
using Microsoft.Extensions.Logging;

namespace Isola.Samples.Workflow;

/// <summary>
/// The hello-sandbox workflow written in C# instead of a script: a pause sandbox, one busybox container printing a
/// line, teardown. The API is the one scripts see (<see cref="IIsola"/>); the scoped sandbox is removed however the
/// workflow ends, including on Ctrl+C.
/// </summary>
internal static class HelloWorkflow
{
    public static async Task<int> RunAsync(IIsola isola, string busybox, ILogger logger, CancellationToken ct)
    {
        var rootfs = Directory.CreateTempSubdirectory("isola-sample-rootfs-").FullName;
        try
        {
            foreach (var dir in new[] { "bin", "proc", "sys", "dev", "tmp", "etc" })
            {
                Directory.CreateDirectory(Path.Combine(rootfs, dir));
            }

            File.Copy(busybox, Path.Combine(rootfs, "bin", "busybox"));

            await using var pod = await isola.Sandboxes.RunScopedAsync(new SandboxSpec(), ct);
            logger.LogInformation("sandbox {Id} ready on runtime {Runtime}", pod.Id, pod.Info.Runtime);
            var container = await pod.Containers.RunAsync(new ContainerSpec
            {
                Rootfs = rootfs,
                Args = ["/bin/busybox", "echo", $"hello from sandbox {pod.Id}, driven from C#"],
            }, ct);
            var exit = await container.WaitAsync(ct);
            var stdout = new Uri(container.Info.Stdio.Stdout).LocalPath;
            Console.Write(File.Exists(stdout) ? await File.ReadAllTextAsync(stdout, ct) : "");
            await container.DeleteAsync(cancellationToken: ct);
            return (int)exit.Code;
        }
        finally
        {
            Directory.Delete(rootfs, recursive: true);
        }
    }
}
