namespace Isola.Agent.Native;

/// <summary>mount(2) flags and the fstab-style option words that set or clear them.</summary>
internal static class MountFlags
{
    public const ulong ReadOnly = 1;
    public const ulong NoSuid = 2;
    public const ulong NoDev = 4;
    public const ulong NoExec = 8;
    public const ulong Synchronous = 16;
    public const ulong Remount = 32;
    public const ulong DirSync = 128;
    public const ulong NoAtime = 1024;
    public const ulong NoDirAtime = 2048;
    public const ulong Bind = 4096;
    public const ulong Move = 8192;
    public const ulong Recursive = 16384;
    public const ulong Private = 1 << 18;
    public const ulong RelAtime = 1 << 21;
    public const ulong StrictAtime = 1 << 24;

    public const int MNT_DETACH = 2;

    /// <summary>Splits mount options into flags and the filesystem-specific data string (e.g. overlay's lowerdir=...).</summary>
    public static (ulong Flags, string? Data) Parse(IEnumerable<string> options)
    {
        ulong flags = 0;
        var data = new List<string>();
        foreach (var option in options)
        {
            switch (option)
            {
                case "ro": flags |= ReadOnly; break;
                case "rw": flags &= ~ReadOnly; break;
                case "nosuid": flags |= NoSuid; break;
                case "suid": flags &= ~NoSuid; break;
                case "nodev": flags |= NoDev; break;
                case "dev": flags &= ~NoDev; break;
                case "noexec": flags |= NoExec; break;
                case "exec": flags &= ~NoExec; break;
                case "sync": flags |= Synchronous; break;
                case "dirsync": flags |= DirSync; break;
                case "noatime": flags |= NoAtime; break;
                case "nodiratime": flags |= NoDirAtime; break;
                case "relatime": flags |= RelAtime; break;
                case "strictatime": flags |= StrictAtime; break;
                case "bind": flags |= Bind; break;
                case "rbind": flags |= Bind | Recursive; break;
                case "defaults": break;
                default: data.Add(option); break;
            }
        }

        return (flags, data.Count == 0 ? null : string.Join(',', data));
    }
}
