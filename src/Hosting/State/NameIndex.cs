using System.Text;

namespace Isola.Hosting.State;

/// <summary>
/// <c>&lt;root&gt;/.names/&lt;name&gt;</c>: one file per sandbox name holding the sandbox's id, so a lookup by name
/// reads one file instead of every record. Entries are written and removed only under the global allocation lock;
/// the record stays the truth: an entry counts only while the record it points to exists and carries that name, so
/// an entry left by a crash between two steps is stale, never binding, and start-up recovery repairs the index.
/// </summary>
internal sealed class NameIndex(StateStore store)
{
    private const string DirectoryName = ".names";

    /// <summary>The index directory.</summary>
    public string Directory => Path.Combine(store.Root, DirectoryName);

    private string EntryPath(string name) => Path.Combine(Directory, IdValidator.Validate(name, "sandbox name"));

    /// <summary>The id an entry holds, or null when there is none (or it is unreadable: a write a crash cut short).</summary>
    public SandboxId? ReadEntry(string name)
    {
        try
        {
            return SandboxId.TryParse(File.ReadAllText(EntryPath(name), Encoding.UTF8).Trim(), out var id) ? id : (SandboxId?)null;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>The record that currently owns <paramref name="name"/>, or null.</summary>
    public SandboxRecord? Resolve(string name)
    {
        if (ReadEntry(name) is not { } id)
        {
            return null;
        }

        try
        {
            return store.TryLoad(id) is { } record && record.Name == name ? record : null;
        }
        catch (CorruptRecordException)
        {
            return null;
        }
    }

    /// <summary>Records that <paramref name="id"/> owns <paramref name="name"/>. Call under the global lock, after
    /// checking with <see cref="Resolve"/> that nobody owns it: a stale entry is replaced.</summary>
    public void Add(string name, SandboxId id)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Isola runs on Linux");
        }

        UnixDirectories.CreateOwnerOnly(Directory);
        var path = EntryPath(name);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var options = new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.Write,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                };
                using (var stream = new FileStream(path, options))
                {
                    stream.Write(Encoding.UTF8.GetBytes(id.Value));
                    stream.Flush(flushToDisk: true);
                }

                UnixDirectories.Fsync(Directory);
                return;
            }
            catch (IOException) when (attempt == 0 && File.Exists(path))
            {
                // A stale entry (its sandbox is gone or renamed by a crash): the caller checked it owns nothing.
                File.Delete(path);
            }
        }
    }

    /// <summary>Removes the entry of <paramref name="name"/> if it still holds <paramref name="id"/>. Call under the
    /// global lock.</summary>
    public void Remove(string name, SandboxId id)
    {
        if (ReadEntry(name) == id)
        {
            File.Delete(EntryPath(name));
        }
    }

    /// <summary>Names that have an entry.</summary>
    public IEnumerable<string> Names() =>
        System.IO.Directory.Exists(Directory)
            ? [.. System.IO.Directory.EnumerateFiles(Directory).Select(Path.GetFileName).OfType<string>().Where(IdValidator.IsValid)]
            : [];

    /// <summary>Deletes an entry whatever it holds (repair of an entry that owns nothing). Call under the global lock.</summary>
    public void Drop(string name) => File.Delete(EntryPath(name));
}
