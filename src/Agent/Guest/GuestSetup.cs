using Isola.Agent.Native;
using Microsoft.Extensions.Logging;

namespace Isola.Agent.Guest;

/// <summary>
/// What PID 1 of the VM does before serving: the kernel filesystems (skipping any /init already mounted), cgroup v2
/// with its controllers delegated so runc can set limits, the host's shared directory (virtiofs tag `kuasar`) at
/// /run/kuasar/state, and the hostname, hosts and resolv.conf the host put there.
/// </summary>
internal static class GuestSetup
{
    public const string ShareTag = "kuasar";
    public const string SharePath = "/run/kuasar/state";

    private const int RB_POWER_OFF = 0x4321fedc;

    public static void Run(ILogger logger)
    {
        MountOnce("proc", "/proc", "proc", MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec, null, logger);
        MountOnce("sysfs", "/sys", "sysfs", MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec, null, logger);
        // devtmpfs first of the rest: the .NET runtime and Guid.NewGuid need /dev/urandom.
        MountOnce("devtmpfs", "/dev", "devtmpfs", MountFlags.NoSuid, "mode=0755", logger);
        MountOnce("devpts", "/dev/pts", "devpts", MountFlags.NoSuid | MountFlags.NoExec, "newinstance,ptmxmode=0666,mode=0620", logger);
        MountOnce("shm", "/dev/shm", "tmpfs", MountFlags.NoSuid | MountFlags.NoDev, "mode=1777", logger);
        MountOnce("tmpfs", "/run", "tmpfs", MountFlags.NoSuid | MountFlags.NoDev, "mode=0755", logger);
        MountOnce("cgroup2", "/sys/fs/cgroup", "cgroup2", MountFlags.NoSuid | MountFlags.NoDev | MountFlags.NoExec, null, logger);
        DelegateControllers(logger);

        // EINVAL or ENOENT: the kernel has virtiofs but the VM has no device with the tag, a normal set-up.
        if (KernelHas("virtiofs") && !MountOnce(ShareTag, SharePath, "virtiofs", 0, null, logger, quiet: true))
        {
            logger.LogInformation("no virtiofs share tagged {Tag}: no shared directory at {Path}", ShareTag, SharePath);
        }
        else if (!KernelHas("virtiofs"))
        {
            logger.LogInformation("no virtiofs in this kernel: no shared directory at {Path}", SharePath);
        }

        ApplyShareFiles(SharePath, "/etc", logger);
    }

    /// <summary>Seconds since boot, for the ready marker.</summary>
    public static string UptimeSeconds()
    {
        try
        {
            return File.ReadAllText("/proc/uptime").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }

    /// <summary>Flushes the filesystems and powers the VM off; returns only if that fails.</summary>
    public static void PowerOff(ILogger logger)
    {
        LibC.sync();
        if (LibC.reboot(RB_POWER_OFF) != 0)
        {
            logger.LogError("reboot(RB_POWER_OFF) failed: {Error}", LibC.LastError());
        }
    }

    /// <summary>Copies hostname (also set as the kernel's), hosts and resolv.conf from <paramref name="share"/> into
    /// <paramref name="etc"/> when present.</summary>
    internal static void ApplyShareFiles(string share, string etc, ILogger logger)
    {
        if (!Directory.Exists(share))
        {
            return;
        }

        Directory.CreateDirectory(etc);
        foreach (var name in new[] { "hostname", "hosts", "resolv.conf" })
        {
            var source = Path.Combine(share, name);
            if (!File.Exists(source))
            {
                continue;
            }

            File.Copy(source, Path.Combine(etc, name), overwrite: true);
            if (name == "hostname" && File.ReadAllText(source).Trim() is { Length: > 0 } hostname && etc == "/etc"
                && LibC.sethostname(hostname, (nuint)System.Text.Encoding.UTF8.GetByteCount(hostname)) != 0)
            {
                logger.LogWarning("sethostname({Hostname}): {Error}", hostname, LibC.LastError());
            }
        }
    }

    /// <summary>The mount points in a /proc/self/mountinfo text (field 5 of each line, octal escapes kept).</summary>
    internal static HashSet<string> MountPoints(string mountinfo) =>
        mountinfo.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' '))
            .Where(fields => fields.Length > 4)
            .Select(fields => fields[4])
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>Mounts unless something is mounted at <paramref name="target"/> already; false when the mount failed
    /// (logged as a warning unless <paramref name="quiet"/>).</summary>
    private static bool MountOnce(string source, string target, string type, ulong flags, string? data, ILogger logger, bool quiet = false)
    {
        var mounted = File.Exists("/proc/self/mountinfo") ? MountPoints(File.ReadAllText("/proc/self/mountinfo")) : [];
        if (mounted.Contains(target))
        {
            return true;
        }

        Directory.CreateDirectory(target);
        if (LibC.mount(source, target, type, flags, data) == 0)
        {
            return true;
        }

        if (!quiet)
        {
            logger.LogWarning("mount {Type} on {Target}: {Error}", type, target, LibC.LastError());
        }

        return false;
    }

    private static bool KernelHas(string filesystem)
    {
        try
        {
            return File.ReadAllLines("/proc/filesystems").Any(line => line.Split('\t').LastOrDefault() == filesystem);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Enables every available controller for child cgroups, so runc can apply a container's limits.</summary>
    private static void DelegateControllers(ILogger logger)
    {
        try
        {
            var controllers = File.ReadAllText("/sys/fs/cgroup/cgroup.controllers").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (controllers.Length > 0)
            {
                File.WriteAllText("/sys/fs/cgroup/cgroup.subtree_control", string.Join(' ', controllers.Select(c => "+" + c)));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("cannot delegate cgroup controllers: {Error}", e.Message);
        }
    }
}
