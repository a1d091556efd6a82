using System.Diagnostics;
using Isola.TestSupport;

namespace Isola.Bench;

/// <summary>
/// <c>isola image pull</c> (pull plus unpack, a fresh CLI process) against <c>skopeo copy</c> to an OCI layout plus
/// <c>umoci unpack</c> of it, the same image from the same loopback registry (Debian's docker-registry), in the same
/// run, interleaved, each into an empty store. Target: at most 1.2x.
/// </summary>
internal sealed class ImageBench : IBenchmark
{
    public string Name => "image-pull";

    public string Description => "isola image pull (CLI) vs skopeo copy + umoci unpack of the same 3-layer image from a loopback registry, median of N (default 7); target <= 1.2";

    public async Task<BenchResult> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        Peers.Require(("docker-registry", "docker-registry"), ("skopeo", "skopeo"), ("umoci", "umoci"));
        var runs = args.Length > 0 && int.TryParse(args[0], out var n) && n > 0 ? n : 7;
        var isola = IsolaCommand.Find();
        var work = Path.Combine(Path.GetTempPath(), "isola-bench-image-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        var port = FreePort();
        var registry = StartRegistry(work, port);
        try
        {
            var (archive, size, files) = BuildImage(work);
            Run("skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false", $"oci-archive:{archive}:v1", $"docker://127.0.0.1:{port}/bench:v1");
            var reference = $"127.0.0.1:{port}/bench:v1";
            var ours = new List<double>();
            var theirs = new List<double>();
            var load = IsolaCommand.LoadAverage();
            for (var i = 0; i < runs; i++)
            {
                var root = Path.Combine(work, "isola-root");
                ours.Add(await IsolaCommand.TimeAsync(isola, ["--root", root, "image", "pull", reference], new Dictionary<string, string>(), cancellationToken));
                Directory.Delete(root, true);

                var layout = Path.Combine(work, "oci");
                var bundle = Path.Combine(work, "bundle");
                var clock = Stopwatch.StartNew();
                Run("skopeo", "--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", $"docker://{reference}", $"oci:{layout}:v1");
                Run("umoci", "unpack", "--image", $"{layout}:v1", bundle);
                theirs.Add(clock.Elapsed.TotalMilliseconds);
                Directory.Delete(layout, true);
                Directory.Delete(bundle, true);
            }

            var ourMedian = BenchResult.Median(ours);
            var theirMedian = BenchResult.Median(theirs);
            return new BenchResult(Name, new Dictionary<string, double>
            {
                ["isola_pull_ms_median"] = ourMedian,
                ["skopeo_umoci_ms_median"] = theirMedian,
                ["ratio"] = ourMedian / theirMedian,
                ["image_compressed_bytes"] = size,
                ["image_files"] = files,
                ["runs"] = runs,
            }, [
                $"isola: `{isola} --root EMPTY image pull REF` (a fresh process: runtime start, pull with 3 layers in parallel, digests verified, layers unpacked for overlayfs)",
                "peer: `skopeo copy docker://REF oci:DIR:v1` then `umoci unpack --image DIR:v1 BUNDLE` (umoci unpacks a merged rootfs)",
                "image: 3 gzip layers (busybox; /usr/share/zoneinfo; /usr/lib/x86_64-linux-gnu/gconv) built by the benchmark, on Debian's docker-registry at 127.0.0.1",
                "samples isola ms: " + Join(ours),
                "samples skopeo+umoci ms: " + Join(theirs),
                $"1-minute load average before / after: {load} / {IsolaCommand.LoadAverage()}",
            ]);
        }
        finally
        {
            registry.Kill();
            await registry.WaitForExitAsync(CancellationToken.None);
            Directory.Delete(work, true);
        }
    }

    private static (string Archive, long Size, int Files) BuildImage(string work)
    {
        var builder = new OciArchiveBuilder();
        var sources = new[] { "/usr/share/zoneinfo", "/usr/lib/x86_64-linux-gnu/gconv" }.Where(Directory.Exists).ToList();
        var layers = new List<(string Digest, long Size, string DiffId)> { builder.AddBusyboxLayer() };
        layers.AddRange(sources.Select(builder.AddDirectoryLayer));
        var image = builder.AddImage(layers, cmd: ["/bin/sh"]);
        builder.Name(image.Digest, image.Size, "v1");
        var archive = builder.WriteArchive(Path.Combine(work, "image.tar"));
        var files = sources.Sum(s => Directory.EnumerateFileSystemEntries(s, "*", SearchOption.AllDirectories).Count()) + 5;
        return (archive, layers.Sum(l => l.Size), files);
    }

    private static Process StartRegistry(string work, int port)
    {
        var config = Path.Combine(work, "registry.yml");
        File.WriteAllText(config, $"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {Path.Combine(work, "registry")}\nhttp:\n  addr: 127.0.0.1:{port}\n");
        var process = Process.Start(new ProcessStartInfo("docker-registry", ["serve", config]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        process.ErrorDataReceived += (_, _) => { };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        for (var i = 0; i < 200; i++)
        {
            try
            {
                using var client = new System.Net.Sockets.TcpClient();
                client.Connect(System.Net.IPAddress.Loopback, port);
                return process;
            }
            catch (System.Net.Sockets.SocketException)
            {
                Thread.Sleep(50);
            }
        }

        throw new InvalidOperationException($"docker-registry did not listen on 127.0.0.1:{port}");
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void Run(string file, params string[] args) => Processes.Run(file, args);

    private static string Join(IEnumerable<double> samples) => string.Join(", ", samples.Select(x => x.ToString("0", System.Globalization.CultureInfo.InvariantCulture)));
}
