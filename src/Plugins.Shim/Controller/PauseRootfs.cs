using System.Security.Cryptography;

namespace Isola.Plugins.Shim.Controller;

/// <summary>
/// The one read-only rootfs every pause bundle points at: a directory named after the pause binary's content, holding
/// that binary and the empty /proc and /dev mount points (the pause's config mounts both, so runc writes nothing here). One file means one inode, so the binary's pages in the page cache are
/// shared by every pause on the machine instead of each pod mapping a private copy (issue 14: 690 kB PSS per pause with
/// copies). runc only bind-mounts the rootfs inside each pause's own mount namespace, so sharing it is safe.
/// </summary>
internal static class PauseRootfs
{
    /// <summary>Where the shared rootfs directories live: on tmpfs, like the shims' sockets, since no pause outlives a boot.</summary>
    public const string Directory = ShimControllerFactory.EventsDirectory + "/pause";

    /// <summary>The shared rootfs for <paramref name="pauseBinary"/>, made on first use. Content-addressed, so a rootfs
    /// in use is never rewritten: another build of the pause gets another directory, and concurrent hosts making the
    /// same one race harmlessly (the first rename wins; the loser's copy is dropped).</summary>
    public static string Ensure(string pauseBinary)
    {
        byte[] content = File.ReadAllBytes(pauseBinary);
        var rootfs = Path.Combine(Directory, Convert.ToHexStringLower(SHA256.HashData(content))[..16]);
        if (File.Exists(Path.Combine(rootfs, "pause")))
        {
            return rootfs;
        }

        System.IO.Directory.CreateDirectory(Directory);
        var staging = Path.Combine(Directory, ".new-" + Guid.NewGuid().ToString("N"));
        try
        {
            System.IO.Directory.CreateDirectory(Path.Combine(staging, "proc"));
            System.IO.Directory.CreateDirectory(Path.Combine(staging, "dev"));
            var binary = Path.Combine(staging, "pause");
            File.WriteAllBytes(binary, content);
            File.SetUnixFileMode(binary, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
                UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            // The directory itself read-only too: nothing but this method ever writes a pause rootfs.
            File.SetUnixFileMode(staging, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
                UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            System.IO.Directory.Move(staging, rootfs);
        }
        catch (IOException) when (File.Exists(Path.Combine(rootfs, "pause")))
        {
            // another host made it first
        }
        finally
        {
            if (System.IO.Directory.Exists(staging))
            {
                File.SetUnixFileMode(staging, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                System.IO.Directory.Delete(staging, recursive: true);
            }
        }

        return rootfs;
    }
}
