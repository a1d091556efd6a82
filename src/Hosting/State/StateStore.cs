using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Isola.Hosting.State;

/// <summary>
/// One 0700 directory per sandbox under the state root, holding <c>sandbox.json</c> (written atomically: temp file,
/// fsync, rename, directory fsync) and the <c>lock</c> file of <see cref="SandboxLocks"/>. Records that cannot be read
/// are moved to <c>&lt;root&gt;/.quarantine/</c>, never deleted.
/// </summary>
internal sealed class StateStore
{
    /// <summary>The record's file name inside a sandbox directory.</summary>
    public const string RecordFileName = "sandbox.json";

    /// <summary>The record as it was before its last write: what recovery tears down by when the record itself cannot
    /// be read, so a sandbox never runs on with no record to remove it by.</summary>
    public const string PreviousRecordFileName = "sandbox.json.prev";

    /// <summary>The lock file's name inside a sandbox directory.</summary>
    public const string LockFileName = "lock";

    private const string QuarantineDirName = ".quarantine";
    private readonly ILogger _logger;
    private bool _rootChecked;

    public StateStore(string root, ILogger logger)
    {
        Root = Path.GetFullPath(root);
        _logger = logger;
    }

    /// <summary>The state root.</summary>
    public string Root { get; }

    /// <summary>Where quarantined records go.</summary>
    public string QuarantineDirectory => Path.Combine(Root, QuarantineDirName);

    /// <summary>The lock serialising id and name allocation across processes.</summary>
    public string GlobalLockPath => Path.Combine(Root, ".lock");

    /// <summary>Creates the root (0700) if needed.</summary>
    public void Initialize()
    {
        try
        {
            UnixDirectories.CreateOwnerOnly(Root);
            if (!_rootChecked && UnixDirectories.IsShared(Root))
            {
                _logger.LogWarning("state root '{Root}' is readable by group or others; sandbox directories are 0700, but consider chmod 700", Root);
            }

            _rootChecked = true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IsolaException(IsolaErrorCode.FailedPrecondition,
                $"cannot create the state root '{Root}' (Isola:Root): {e.Message}", e);
        }
    }

    public string SandboxDirectory(SandboxId id) => Path.Combine(Root, id.Value);

    public string RecordPath(SandboxId id) => Path.Combine(SandboxDirectory(id), RecordFileName);

    public string LockPath(SandboxId id) => Path.Combine(SandboxDirectory(id), LockFileName);

    /// <summary>Ids of the sandbox directories present (directories whose name is not a valid id are ignored: this is
    /// where ids enter from disk).</summary>
    public IEnumerable<SandboxId> ListIds()
    {
        if (!Directory.Exists(Root))
        {
            return [];
        }

        return Directory.EnumerateDirectories(Root)
            .Select(Path.GetFileName)
            .Order(StringComparer.Ordinal)
            .Select(name => SandboxId.TryParse(name, out var id) ? id : (SandboxId?)null)
            .OfType<SandboxId>()
            .ToList();
    }

    /// <summary>Reads a record; null when the sandbox has no record. Throws <see cref="CorruptRecordException"/>
    /// when the file exists but cannot be parsed.</summary>
    public SandboxRecord? TryLoad(SandboxId id)
    {
        var path = RecordPath(id);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        try
        {
            var record = JsonSerializer.Deserialize<SandboxRecord>(bytes, IsolaJson.Options)
                ?? throw new JsonException("the record is 'null'");
            if (record.Id != id)
            {
                throw new JsonException($"the record names sandbox '{record.Id}' but lives in directory '{id}'");
            }

            return record;
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException)
        {
            throw new CorruptRecordException(path, e);
        }
    }

    /// <summary>Creates the sandbox's directory (0700).</summary>
    public void CreateSandboxDirectory(SandboxId id)
    {
        var dir = SandboxDirectory(id);
        try
        {
            UnixDirectories.CreateOwnerOnly(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IsolaException(IsolaErrorCode.FailedPrecondition,
                $"sandbox '{id}': cannot create its state directory '{dir}' under the state root '{Root}' (Isola:Root): {e.Message}", e);
        }
    }

    /// <summary>Writes the record atomically: a reader sees the old record or the new one, never a mix.</summary>
    public void Save(SandboxRecord record)
    {
        record.UpdatedAt = DateTimeOffset.UtcNow;
        var dir = SandboxDirectory(record.Id);
        var final = Path.Combine(dir, RecordFileName);
        var temp = Path.Combine(dir, $".{RecordFileName}.{Guid.NewGuid():N}.tmp");
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Isola runs on Linux");
        }

        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            };
            using (var stream = new FileStream(temp, options))
            {
                JsonSerializer.Serialize(stream, record, IsolaJson.Options);
                stream.Flush(flushToDisk: true);
            }

            Faults.CrashPoints.Reach($"record-temp:{record.State}");
            KeepPrevious(dir, final);
            File.Move(temp, final, overwrite: true);
            UnixDirectories.Fsync(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw IsolaException.Internal($"sandbox '{record.Id}': cannot write its record '{final}': {e.Message}", e);
        }
    }

    /// <summary>The record before its last write, or null when there is none or it cannot be read either.</summary>
    public SandboxRecord? TryLoadPrevious(SandboxId id)
    {
        try
        {
            var record = JsonSerializer.Deserialize<SandboxRecord>(File.ReadAllBytes(Path.Combine(SandboxDirectory(id), PreviousRecordFileName)),
                IsolaJson.Options);
            return record?.Id == id ? record : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or NotSupportedException or ArgumentException)
        {
            return null;
        }
    }

    // A second name for the current record, swapped in atomically: link(2) and rename(2), no copy and no extra fsync
    // (the directory fsync after the main rename covers both). Best effort: without it only salvage is lost.
    private static void KeepPrevious(string dir, string final)
    {
        var link = Path.Combine(dir, $".{PreviousRecordFileName}.{Guid.NewGuid():N}.tmp");
        if (UnixDirectories.HardLink(final, link))
        {
            try
            {
                File.Move(link, Path.Combine(dir, PreviousRecordFileName), overwrite: true);
            }
            catch (IOException)
            {
                TryDelete(link);
            }
        }
    }

    /// <summary>Deletes the sandbox's directory and everything in it.</summary>
    public void DeleteSandbox(SandboxId id)
    {
        var dir = SandboxDirectory(id);
        // Drop the record first: if deleting the rest fails half-way, what remains has no record and is cleaned
        // up by Recover() instead of resurrecting a removed sandbox.
        TryDelete(Path.Combine(dir, RecordFileName));
        TryDelete(Path.Combine(dir, PreviousRecordFileName));
        if (Directory.Exists(dir))
        {
            // Never recurse through a mount a controller failed to release (a rootfs bound into the directory).
            MountDetacher.DetachUnder(dir);
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
                return;
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (IOException) when (attempt < 3)
            {
                // A process that was waiting for the lock may have opened the lock file just as it was unlinked
                // ("directory not empty"); it sees no record and backs off, so the next attempt succeeds.
                Thread.Sleep(20);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw IsolaException.Internal($"sandbox '{id}': cannot delete its state directory '{dir}': {e.Message}", e);
            }
        }
    }

    /// <summary>Deletes temp files of record writes that a crash interrupted (the rename never happened, so the record
    /// itself is intact). Call with the sandbox's lock held.</summary>
    public void DeleteStaleTempFiles(SandboxId id)
    {
        foreach (var temp in Directory.EnumerateFiles(SandboxDirectory(id), $".{RecordFileName}.*.tmp"))
        {
            TryDelete(temp);
        }
    }

    /// <summary>True when the directory holds nothing but the lock file and temp files of a first record write: a
    /// creation that died before its record existed, and so before any side effect.</summary>
    public bool IsEmptyLeftover(SandboxId id)
    {
        var dir = SandboxDirectory(id);
        return Directory.Exists(dir) &&
            Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).All(name => name == LockFileName || IsTempFile(name!));
    }

    private static bool IsTempFile(string name) =>
        name.StartsWith($".{RecordFileName}.", StringComparison.Ordinal) && name.EndsWith(".tmp", StringComparison.Ordinal);

    /// <summary>Moves a sandbox directory aside to the quarantine directory and returns where it went.</summary>
    public string Quarantine(SandboxId id, Exception reason, string outcome = "")
    {
        UnixDirectories.CreateOwnerOnly(QuarantineDirectory);
        var target = Path.Combine(QuarantineDirectory, $"{id}-{DateTimeOffset.UtcNow:yyyyMMddTHHmmssfffZ}");
        // A mount point cannot be renamed; what is mounted there belongs to a sandbox being given up anyway.
        MountDetacher.DetachUnder(SandboxDirectory(id));
        Directory.Move(SandboxDirectory(id), target);
        outcome = outcome.Length > 0 ? outcome : "not shut down";
        try
        {
            // For the operator who finds the directory: why it is here and what became of the sandbox.
            File.WriteAllText(Path.Combine(target, "QUARANTINED"), $"{reason.Message}\n{outcome}\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        _logger.LogError("sandbox '{Id}': its record cannot be read ({Reason}); {Outcome}; moved to '{Target}'", id, reason.Message,
            outcome, target);
        return target;
    }

    /// <summary>Directories quarantined so far (by this or earlier processes).</summary>
    public IReadOnlyList<string> ListQuarantined() =>
        Directory.Exists(QuarantineDirectory)
            ? [.. Directory.EnumerateDirectories(QuarantineDirectory).Order(StringComparer.Ordinal)]
            : [];

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>A record file that exists but cannot be parsed.</summary>
internal sealed class CorruptRecordException(string path, Exception inner)
    : Exception($"unreadable sandbox record '{path}': {inner.Message}", inner)
{
    public string Path { get; } = path;
}
