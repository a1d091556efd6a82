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

    public string SandboxDirectory(string id) => Path.Combine(Root, IdValidator.Validate(id, "sandbox"));

    public string RecordPath(string id) => Path.Combine(SandboxDirectory(id), RecordFileName);

    public string LockPath(string id) => Path.Combine(SandboxDirectory(id), LockFileName);

    /// <summary>Ids of the sandbox directories present (directories whose name is not a valid id are ignored).</summary>
    public IEnumerable<string> ListIds()
    {
        if (!Directory.Exists(Root))
        {
            return [];
        }

        return Directory.EnumerateDirectories(Root)
            .Select(Path.GetFileName)
            .Where(name => IdValidator.IsValid(name) && name![0] != '.')
            .Select(name => name!)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Reads a record; null when the sandbox has no record. Throws <see cref="CorruptRecordException"/>
    /// when the file exists but cannot be parsed.</summary>
    public SandboxRecord? TryLoad(string id)
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
            var record = JsonSerializer.Deserialize<SandboxRecord>(bytes, StateJson.Options)
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
    public void CreateSandboxDirectory(string id) => UnixDirectories.CreateOwnerOnly(SandboxDirectory(id));

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
                JsonSerializer.Serialize(stream, record, StateJson.Options);
                stream.Flush(flushToDisk: true);
            }

            Faults.CrashPoints.Reach($"record-temp:{record.State}");

            File.Move(temp, final, overwrite: true);
            UnixDirectories.Fsync(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw IsolaException.Internal($"sandbox '{record.Id}': cannot write its record '{final}': {e.Message}", e);
        }
    }

    /// <summary>Deletes the sandbox's directory and everything in it.</summary>
    public void DeleteSandbox(string id)
    {
        var dir = SandboxDirectory(id);
        // Drop the record first: if deleting the rest fails half-way, what remains has no record and is cleaned
        // up by Recover() instead of resurrecting a removed sandbox.
        TryDelete(Path.Combine(dir, RecordFileName));
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
        }
    }

    /// <summary>Deletes temp files of record writes that a crash interrupted (the rename never happened, so the record
    /// itself is intact). Call with the sandbox's lock held.</summary>
    public void DeleteStaleTempFiles(string id)
    {
        foreach (var temp in Directory.EnumerateFiles(SandboxDirectory(id), $".{RecordFileName}.*.tmp"))
        {
            TryDelete(temp);
        }
    }

    /// <summary>True when the directory holds nothing but the lock file (a creation that died before its first write).</summary>
    public bool IsEmptyLeftover(string id)
    {
        var dir = SandboxDirectory(id);
        return Directory.Exists(dir) &&
            Directory.EnumerateFileSystemEntries(dir).All(p => Path.GetFileName(p) == LockFileName);
    }

    /// <summary>Moves a sandbox directory aside to the quarantine directory and returns where it went.</summary>
    public string Quarantine(string id, Exception reason)
    {
        UnixDirectories.CreateOwnerOnly(QuarantineDirectory);
        var target = Path.Combine(QuarantineDirectory, $"{id}-{DateTimeOffset.UtcNow:yyyyMMddTHHmmssfffZ}");
        Directory.Move(SandboxDirectory(id), target);
        _logger.LogError("sandbox '{Id}': its record cannot be read ({Reason}); moved to '{Target}'", id, reason.Message, target);
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
