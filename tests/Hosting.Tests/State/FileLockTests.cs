using Isola.Hosting.State;

namespace Isola.Hosting.Tests.State;

/// <summary>The lock file primitive: exclusive across file descriptions (as across processes), released on dispose,
/// and telling "busy" apart from "gone".</summary>
public sealed class FileLockTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "isola-lock-" + Guid.NewGuid().ToString("N"));

    public FileLockTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_held_lock_excludes_a_second_holder_until_released()
    {
        var path = Path.Combine(_dir, "lock");
        var first = FileLock.TryAcquire(path);
        Assert.NotNull(first);
        Assert.Null(FileLock.TryAcquire(path));
        var released = 0;
        var waiterStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = Task.Run(async () =>
        {
            waiterStarted.SetResult();
            var held = await FileLock.AcquireAsync(path, CancellationToken.None);
            // Whenever the waiter got the lock, the first holder must have let go before.
            return (Lock: held, AfterRelease: Volatile.Read(ref released) == 1);
        });
        await waiterStarted.Task;
        Assert.Null(FileLock.TryAcquire(path)); // still held while the waiter polls
        Volatile.Write(ref released, 1);
        first.Dispose();
        var (second, afterRelease) = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        using (second)
        {
            Assert.NotNull(second);
            Assert.True(afterRelease, "the waiter got the lock while the first holder still held it");
        }
    }

    [Fact]
    public void The_lock_is_a_flock_that_other_flock_users_see()
    {
        var path = Path.Combine(_dir, "lock");
        using var held = FileLock.TryAcquire(path);
        Assert.NotNull(held);

        // flock(1), .NET's FileShare.None and other Isola processes all take flock(2) on their own descriptor.
        Assert.Throws<IOException>(() => new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None));
        Assert.Contains(File.ReadAllLines("/proc/locks"), l => l.Contains($"FLOCK  ADVISORY  WRITE {Environment.ProcessId} ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Waiting_is_cancellable()
    {
        var path = Path.Combine(_dir, "lock");
        using var held = FileLock.TryAcquire(path);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => FileLock.AcquireAsync(path, cts.Token));
    }

    [Fact]
    public void A_missing_file_or_directory_is_gone_not_busy()
    {
        Assert.Throws<FileNotFoundException>(() => FileLock.TryAcquire(Path.Combine(_dir, "absent"), create: false));
        Assert.Throws<DirectoryNotFoundException>(() => FileLock.TryAcquire(Path.Combine(_dir, "no-such-dir", "lock")));
    }

    [Fact]
    public void A_lock_file_replaced_between_open_and_lock_is_not_held_by_two()
    {
        var path = Path.Combine(_dir, "lock");
        File.WriteAllText(path, "");
        var replaced = false;
        FileLock.LockedForTests = p =>
        {
            if (p == path && !replaced)
            {
                // The holder deletes the lock file (its sandbox is removed) and the id is created again, just after
                // this waiter's flock succeeded on the old inode.
                replaced = true;
                File.Delete(path);
                File.WriteAllText(path, "");
            }
        };
        try
        {
            using var first = FileLock.TryAcquire(path, create: false);
            Assert.True(replaced);
            Assert.NotNull(first);
            Assert.Null(FileLock.TryAcquire(path, create: false)); // the file at the path is the one held
        }
        finally
        {
            FileLock.LockedForTests = null;
        }
    }

    [Fact]
    public void A_lock_file_deleted_between_open_and_lock_is_gone()
    {
        var path = Path.Combine(_dir, "lock");
        File.WriteAllText(path, "");
        FileLock.LockedForTests = p =>
        {
            if (p == path)
            {
                File.Delete(path);
            }
        };
        try
        {
            Assert.Throws<FileNotFoundException>(() => FileLock.TryAcquire(path, create: false));
        }
        finally
        {
            FileLock.LockedForTests = null;
        }
    }

    [Fact]
    public async Task Stale_temp_files_of_an_interrupted_write_are_removed_at_recovery()
    {
        using var t = new Doubles.TestRoot();
        await using (var host = await t.StartAsync())
        {
            await host.Sandboxes.RunAsync(new SandboxSpec { Id = "sb1" });
        }

        var stale = Path.Combine(t.Root, "sb1", ".sandbox.json.0123456789abcdef.tmp");
        await File.WriteAllTextAsync(stale, "{ half a rec");
        await using (var host = await t.StartAsync())
        {
            Assert.False(File.Exists(stale));
            Assert.Equal(SandboxState.Ready, (await host.Sandboxes.GetAsync("sb1")).Info.State);
        }
    }
}
