using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Isola.Images.Tests;

/// <summary>
/// Debian's docker-registry (the distribution project's registry) on a free loopback port, storing in a temporary
/// directory, optionally behind htpasswd basic authentication; images are pushed to it with skopeo.
/// </summary>
internal sealed class RegistryServer : IDisposable
{
    /// <summary>A bcrypt htpasswd line for user <c>isola</c>, password <c>s3cret</c> (the registry accepts bcrypt only).</summary>
    public const string User = "isola";
    public const string Password = "s3cret";
    private const string HtpasswdLine = "isola:$2b$12$9Ez/A6zU3UnaQPUvxm9OJuuzUsS6Yiffkch2v7G7ezrRiPMiynrAC";

    private readonly Process _process;

    public RegistryServer(string dir, bool authenticated = false)
    {
        Tools.RequireRegistry();
        Directory.CreateDirectory(dir);
        Port = FreePort();
        Data = Path.Combine(dir, "data");
        var auth = "";
        if (authenticated)
        {
            File.WriteAllText(Path.Combine(dir, "htpasswd"), HtpasswdLine + "\n");
            auth = $"auth:\n  htpasswd:\n    realm: isola-test\n    path: {Path.Combine(dir, "htpasswd")}\n";
        }

        var config = Path.Combine(dir, "config.yml");
        File.WriteAllText(config, $"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {Data}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{Port}\n{auth}");
        _process = Process.Start(new ProcessStartInfo("docker-registry", ["serve", config]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        _process.ErrorDataReceived += (_, _) => { };
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
        WaitUntilServing();
    }

    public int Port { get; }

    /// <summary>Where the registry keeps blobs (<c>docker/registry/v2/blobs/sha256/XX/HEX/data</c>).</summary>
    public string Data { get; }

    public string Host => $"127.0.0.1:{Port}";

    /// <summary>Pushes image <paramref name="tag"/> of an OCI archive (every platform with <paramref name="all"/>).</summary>
    public void Push(string archive, string tag, string repository, bool all = false)
    {
        var args = new List<string> { "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false" };
        if (all)
        {
            args.Add("--all");
        }

        if (File.Exists(Path.Combine(Path.GetDirectoryName(Data)!, "htpasswd")))
        {
            args.Add($"--dest-creds={User}:{Password}");
        }

        args.AddRange([$"oci-archive:{archive}:{tag}", $"docker://{Host}/{repository}:{tag}"]);
        Tools.Run("skopeo", [.. args]);
    }

    /// <summary>The file holding blob <paramref name="digest"/> in the registry's storage.</summary>
    public string BlobFile(string digest)
    {
        var hex = digest["sha256:".Length..];
        return Path.Combine(Data, "docker", "registry", "v2", "blobs", "sha256", hex[..2], hex, "data");
    }

    public void Dispose()
    {
        try
        {
            _process.Kill();
            _process.WaitForExit();
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void WaitUntilServing()
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"docker-registry exited {_process.ExitCode} on start");
            }

            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }

        throw new InvalidOperationException($"docker-registry did not listen on {Host} within 20 s");
    }
}
