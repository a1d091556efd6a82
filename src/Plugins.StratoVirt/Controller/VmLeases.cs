using Isola.Controllers;
using Isola.Vmm;

namespace Isola.Plugins.StratoVirt.Controller;

/// <summary>
/// Reference-counted handles on running VMs. A VM's QMP connection is held only while someone uses it: an operation
/// in progress or a Wait. The last user closes it, because QEMU serves one QMP client at a time and another host
/// process (a restarted host, the CLI) must be able to attach; the VM itself keeps running. Attaching again costs a
/// connect and a capabilities exchange.
/// </summary>
internal sealed class VmLeases : IAsyncDisposable
{
    private readonly Func<SandboxContext, CancellationToken, Task<IVmInstance>> _attach;
    private readonly Dictionary<SandboxId, Entry> _entries = new();
    private readonly Dictionary<SandboxId, SemaphoreSlim> _attaching = new();
    private readonly object _gate = new();

    public VmLeases(Func<SandboxContext, CancellationToken, Task<IVmInstance>> attach)
    {
        _attach = attach;
    }

    /// <summary>The sandbox's VM, attached from its record when no one holds it. Throws NotFound when it is gone.</summary>
    public async Task<VmLease> AcquireAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        if (TryTake(sandbox.Id) is { } held)
        {
            return held;
        }

        SemaphoreSlim attaching;
        lock (_gate)
        {
            if (!_attaching.TryGetValue(sandbox.Id, out attaching!))
            {
                _attaching[sandbox.Id] = attaching = new SemaphoreSlim(1, 1);
            }
        }

        await attaching.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return TryTake(sandbox.Id) ?? Adopt(sandbox.Id, await _attach(sandbox, cancellationToken).ConfigureAwait(false));
        }
        finally
        {
            attaching.Release();
        }
    }

    /// <summary>Like <see cref="AcquireAsync"/>, but null when the VM is gone or has exited.</summary>
    public async Task<VmLease?> TryAcquireRunningAsync(SandboxContext sandbox, CancellationToken cancellationToken)
    {
        VmLease lease;
        try
        {
            lease = await AcquireAsync(sandbox, cancellationToken).ConfigureAwait(false);
        }
        catch (IsolaException e) when (e.Code == IsolaErrorCode.NotFound)
        {
            return null;
        }

        if (lease.Vm.WaitAsync(CancellationToken.None).IsCompleted)
        {
            await lease.DisposeAsync().ConfigureAwait(false);
            return null;
        }

        return lease;
    }

    /// <summary>True while someone holds the sandbox's VM (its QMP connection and exit watcher are live).</summary>
    public bool IsHeld(SandboxId sandboxId)
    {
        lock (_gate)
        {
            return _entries.ContainsKey(sandboxId);
        }
    }

    /// <summary>Registers a VM just launched, with the caller as its first user.</summary>
    public VmLease Adopt(SandboxId sandboxId, IVmInstance vm)
    {
        lock (_gate)
        {
            if (_entries.ContainsKey(sandboxId))
            {
                throw IsolaException.FailedPrecondition($"sandbox {sandboxId}: a VM is already attached");
            }

            _entries[sandboxId] = new Entry(vm) { Users = 1 };
        }

        return new VmLease(this, sandboxId, vm);
    }

    public async ValueTask DisposeAsync()
    {
        List<IVmInstance> all;
        lock (_gate)
        {
            all = [.. _entries.Values.Select(e => e.Vm)];
            _entries.Clear();
        }

        foreach (var vm in all)
        {
            await vm.DisposeAsync().ConfigureAwait(false);
        }
    }

    internal async ValueTask ReleaseAsync(SandboxId sandboxId, IVmInstance vm)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(sandboxId, out var entry) || !ReferenceEquals(entry.Vm, vm) || --entry.Users > 0)
            {
                return;
            }

            _entries.Remove(sandboxId);
        }

        await vm.DisposeAsync().ConfigureAwait(false);
    }

    private VmLease? TryTake(SandboxId sandboxId)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue(sandboxId, out var entry))
            {
                entry.Users++;
                return new VmLease(this, sandboxId, entry.Vm);
            }
        }

        return null;
    }

    private sealed class Entry(IVmInstance vm)
    {
        public IVmInstance Vm { get; } = vm;

        public int Users { get; set; }
    }
}

/// <summary>One use of a VM; disposing it releases the use (and the QMP connection with the last one).</summary>
internal sealed class VmLease(VmLeases owner, SandboxId sandboxId, IVmInstance vm) : IAsyncDisposable
{
    private int _released;

    public IVmInstance Vm { get; } = vm;

    public ValueTask DisposeAsync() =>
        Interlocked.Exchange(ref _released, 1) == 0 ? owner.ReleaseAsync(sandboxId, Vm) : ValueTask.CompletedTask;
}
