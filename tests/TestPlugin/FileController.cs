using System.Diagnostics;
using Isola.Controllers;
using Microsoft.Extensions.Configuration;

namespace Isola.TestPlugin;

/// <summary>Creates <see cref="FileController"/>s. Options: CallLog (file every call is appended to), ResourceDir
/// (one file per live sandbox: what a real runtime would leak), CrashOn (an operation after whose side effect the
/// process kills itself with SIGKILL), SlowMs (delay inside Stop and Shutdown, to widen races).</summary>
internal sealed class FileControllerFactory : ISandboxControllerFactory
{
    public string Name => "filetest";

    public ISandboxController Create(ControllerContext context)
    {
        var callLog = context.Options["CallLog"] ?? throw IsolaException.InvalidArgument($"{context.ConfigPath}:CallLog: required");
        var resources = context.Options["ResourceDir"] ?? throw IsolaException.InvalidArgument($"{context.ConfigPath}:ResourceDir: required");
        var slow = int.TryParse(context.Options["SlowMs"], out var ms) ? ms : 0;
        return new FileController(callLog, resources, context.Options["CrashOn"], slow);
    }
}

/// <summary>
/// A controller whose whole state is in files, so that several isola processes see the same sandboxes and a test
/// can count, across processes, how often each operation ran. It enforces the Sandbox API order (Create, then Start).
/// </summary>
internal sealed class FileController(string callLog, string resourceDir, string? crashOn, int slowMs) : ISandboxController
{
    private string Resource(SandboxContext s) => Path.Combine(resourceDir, s.Id.Value);

    private string? Phase(SandboxContext s) => File.Exists(Resource(s)) ? File.ReadAllText(Resource(s)) : null;

    // Calls run concurrently (a listing refreshes up to 8 sandboxes at once, several isola processes share the log),
    // and .NET's Append mode seeks to the end rather than opening with O_APPEND, so two appends could write the same
    // offset and lose a line. write(2) on an O_APPEND descriptor appends atomically, whatever .NET's own file locking
    // is set to (tests run isola with DOTNET_SYSTEM_IO_DISABLEFILELOCKING=1).
    private void Record(string operation, SandboxContext s)
    {
        var line = System.Text.Encoding.UTF8.GetBytes($"{operation} {s.Id} {Environment.ProcessId}\n");
        var fd = NativeAppend.Open(callLog, NativeAppend.WriteOnlyAppendCreate, 0x1A4);
        if (fd < 0)
        {
            throw new IOException($"filetest: cannot open call log '{callLog}': errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
        }

        try
        {
            if (NativeAppend.Write(fd, line, line.Length) != line.Length)
            {
                throw new IOException($"filetest: short write to call log '{callLog}'");
            }
        }
        finally
        {
            _ = NativeAppend.Close(fd);
        }
    }

    private void MaybeCrash(string operation)
    {
        if (string.Equals(crashOn, operation, StringComparison.OrdinalIgnoreCase))
        {
            // A real crash: no finally blocks, no rollback, the kernel drops our locks.
            Process.GetCurrentProcess().Kill();
            Thread.Sleep(Timeout.Infinite);
        }
    }

    public Task CreateAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        Record("Create", sandbox);
        Directory.CreateDirectory(resourceDir);
        if (Phase(sandbox) is not null)
        {
            throw IsolaException.AlreadyExists($"filetest: sandbox '{sandbox.Id}' exists");
        }

        File.WriteAllText(Resource(sandbox), "created");
        MaybeCrash("Create");
        return Task.CompletedTask;
    }

    public Task<ControllerStartResult> StartAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        Record("Start", sandbox);
        if (Phase(sandbox) != "created")
        {
            throw IsolaException.FailedPrecondition($"filetest: sandbox '{sandbox.Id}' is '{Phase(sandbox)}', Start needs 'created'");
        }

        File.WriteAllText(Resource(sandbox), "running");
        MaybeCrash("Start");
        return Task.FromResult(new ControllerStartResult((uint)Environment.ProcessId, DateTimeOffset.UtcNow, $"test://{sandbox.Id}", 2));
    }

    public Task<PlatformInfo> PlatformAsync(SandboxContext sandbox, CancellationToken cancellationToken) =>
        Task.FromResult(new PlatformInfo("linux", "amd64"));

    public Task<PrepareResult> PrepareAsync(SandboxContext sandbox, PrepareRequest request, CancellationToken cancellationToken)
    {
        Record("Prepare", sandbox);
        var bundle = Path.Combine(sandbox.StateDirectory, "bundles", request.ExecId?.Value ?? request.ContainerId.Value);
        Directory.CreateDirectory(bundle);
        File.WriteAllText(Path.Combine(bundle, "config.json"), request.OciSpec.ToJsonString());
        return Task.FromResult(new PrepareResult(bundle, []));
    }

    public Task PurgeAsync(SandboxContext sandbox, PurgeRequest request, CancellationToken cancellationToken)
    {
        Record("Purge", sandbox);
        var bundle = Path.Combine(sandbox.StateDirectory, "bundles", request.ExecId?.Value ?? request.ContainerId.Value);
        if (Directory.Exists(bundle))
        {
            Directory.Delete(bundle, recursive: true);
        }

        return Task.CompletedTask;
    }

    public Task UpdateResourcesAsync(SandboxContext sandbox, UpdateResourcesRequest request, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    public async Task StopAsync(SandboxContext sandbox, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Record("Stop", sandbox);
        await Task.Delay(slowMs, cancellationToken).ConfigureAwait(false);
        if (Phase(sandbox) is not null)
        {
            File.WriteAllText(Resource(sandbox), "stopped");
        }

        MaybeCrash("Stop");
    }

    public async Task<ExitStatus> WaitAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        while (true)
        {
            var phase = Phase(sandbox);
            if (phase is null)
            {
                throw IsolaException.NotFound($"filetest: sandbox '{sandbox.Id}' not found");
            }

            if (phase == "stopped")
            {
                return new ExitStatus(0, DateTimeOffset.UtcNow);
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    public Task<ControllerStatus> StatusAsync(SandboxContext sandbox, bool verbose, CancellationToken cancellationToken)
    {
        Record("Status", sandbox);
        var phase = Phase(sandbox) ?? throw IsolaException.NotFound($"filetest: sandbox '{sandbox.Id}' not found");
        return Task.FromResult(new ControllerStatus { Ready = phase == "running", TaskAddress = $"test://{sandbox.Id}", TaskApiVersion = 2 });
    }

    public async Task ShutdownAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        Record("Shutdown", sandbox);
        await Task.Delay(slowMs, cancellationToken).ConfigureAwait(false);
        MaybeCrash("Shutdown");
        File.Delete(Resource(sandbox));
    }
}
