using System.Diagnostics;
using Google.Protobuf;
using Isola.TaskApi.Protos.Task;
using Isola.TestSupport;
using Isola.Ttrpc.Client;

namespace Isola.Agent.Tests;

/// <summary>isola-agent in host mode as a child process (`dotnet isola-agent.dll --listen ...`) with its own runc root
/// and state directory, and a ttrpc client connected to it.</summary>
public sealed class AgentProcess : IAsyncDisposable
{
    public const string TaskService = "containerd.task.v2.Task";

    private readonly Process _process;
    private readonly Task<string> _stderr;

    private AgentProcess(Process process, Task<string> stderr, string dir, TtrpcClient client)
    {
        _process = process;
        _stderr = stderr;
        Dir = dir;
        Client = client;
    }

    /// <summary>The agent's own directory: socket, runc root, state.</summary>
    public string Dir { get; }

    public string RuncRoot => Path.Combine(Dir, "runc");

    public string StateDir => Path.Combine(Dir, "state");

    public int Pid => _process.Id;

    public TtrpcClient Client { get; }

    public bool HasExited => _process.HasExited;

    public static async Task<AgentProcess> StartAsync()
    {
        Peers.Require(("runc", "runc"), ("busybox", "busybox-static"));
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException("the agent tests run containers with runc and mount filesystems: run them as root");
        }

        var dir = Directory.CreateTempSubdirectory("isola-agent-test-").FullName;
        var socket = Path.Combine(dir, "agent.sock");
        // ISOLA_AGENT_BINARY runs the same tests against a published (NativeAOT) agent instead of the IL build.
        var binary = Environment.GetEnvironmentVariable("ISOLA_AGENT_BINARY");
        var start = new ProcessStartInfo(string.IsNullOrEmpty(binary) ? "dotnet" : binary)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (string.IsNullOrEmpty(binary))
        {
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "isola-agent.dll"));
        }

        foreach (var arg in new[]
        {
            "--listen", "unix://" + socket,
            "--root", Path.Combine(dir, "runc"), "--state", Path.Combine(dir, "state"), "--verbose",
        })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start isola-agent");
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!File.Exists(socket))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"isola-agent did not start serving {socket}: {(process.HasExited ? await stderr : "timeout")}");
            }

            await Task.Delay(20);
        }

        var client = await TtrpcClient.ConnectAsync("unix://" + socket, new TtrpcClientOptions { DefaultTimeout = TimeSpan.FromSeconds(30) });
        return new AgentProcess(process, stderr, dir, client);
    }

    public Task<T> CallAsync<T>(string method, IMessage request, MessageParser<T> parser, TimeSpan? timeout = null)
        where T : IMessage<T> =>
        Client.CallAsync(TaskService, method, request, parser, timeout is null ? null : new TtrpcCallOptions { Timeout = timeout });

    /// <summary>The agent's log so far (after it exited: all of it).</summary>
    public string Log => _stderr.IsCompleted ? _stderr.Result : "(still running)";

    /// <summary>Direct children of the agent that are zombies (exited, not reaped).</summary>
    public IReadOnlyList<int> ZombieChildren() =>
        Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => n!.All(char.IsAsciiDigit))
            .Select(n => (Pid: int.Parse(n!), Stat: TryRead($"/proc/{n}/stat")))
            .Where(p => p.Stat is not null)
            .Select(p => (p.Pid, Fields: p.Stat!.Split(") ")[^1].Split(' ')))
            .Where(p => p.Fields[0] == "Z" && p.Fields[1] == Pid.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Select(p => p.Pid).ToList();

    private static string? TryRead(string file)
    {
        try
        {
            return File.ReadAllText(file);
        }
        catch (IOException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // a mount or runc state left behind: the test that caused it says so
        }
    }
}
