using Isola.Controllers;
using Isola.Hosting.Configuration;
using Isola.Hosting.State;

namespace Isola.Hosting.Sandboxes;

/// <summary>A sandbox's lock, held together with its freshly loaded record and the controller context built from it.</summary>
internal sealed class SandboxScope : IDisposable
{
    private readonly IDisposable _lease;

    public SandboxScope(IDisposable lease, SandboxRecord record, RuntimeHandler handler, string stateDirectory)
    {
        _lease = lease;
        Record = record;
        Handler = handler;
        Context = SandboxContexts.FromRecord(record, stateDirectory, shareControllerData: true);
    }

    public SandboxRecord Record { get; }

    public RuntimeHandler Handler { get; }

    public SandboxContext Context { get; }

    public void Dispose() => _lease.Dispose();
}
