using Isola.Controllers;
using Isola.Hosting.Configuration;
using Isola.Hosting.State;

namespace Isola.Hosting.Sandboxes;

/// <summary>A sandbox's lock, held together with its freshly loaded record and the controller context built from it.</summary>
internal sealed class SandboxScope : IDisposable
{
    private readonly IDisposable _lease;

    public SandboxScope(IDisposable lease, SandboxRecord record, RuntimeHandler handler, StateStore store)
        : this(lease, record, handler, store.SandboxDirectory(record.Id), () => Save(store, record))
    {
    }

    /// <summary>A scope whose record lives in <paramref name="stateDirectory"/> (a quarantined one, say) and whose
    /// checkpoints go to <paramref name="checkpoint"/>.</summary>
    public SandboxScope(IDisposable lease, SandboxRecord record, RuntimeHandler handler, string stateDirectory, Action checkpoint)
    {
        _lease = lease;
        Record = record;
        Handler = handler;
        Context = SandboxContexts.FromRecord(record, stateDirectory, shareControllerData: true, checkpoint);
    }

    public SandboxRecord Record { get; }

    public RuntimeHandler Handler { get; }

    public SandboxContext Context { get; }

    public void Dispose() => _lease.Dispose();

    // The controller's data is the record's own dictionary (shared under the lock), so saving the record saves it.
    private static void Save(StateStore store, SandboxRecord record)
    {
        store.Save(record);
        Faults.CrashPoints.Reach("record:checkpoint");
    }
}
