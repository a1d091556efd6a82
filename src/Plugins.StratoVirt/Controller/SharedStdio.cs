using System.Runtime.InteropServices;
using Isola.Plugins.StratoVirt.Native;

namespace Isola.Plugins.StratoVirt.Controller;

/// <summary>
/// A process's stdout and stderr files in a VM sandbox. The guest cannot write to host paths, so each file the host
/// asked for gets a twin in the container's bundle on the virtiofs share, hard-linked to it: the agent appends to the
/// guest path, and the host reads the same inode at the path it chose. The output is therefore complete on the host as
/// soon as the process exits (virtiofs writes go through to the host file), and it outlives the bundle.
/// </summary>
internal static class SharedStdio
{
    private const int EXDEV = 18;

    /// <summary>The stdio the guest agent must use, with the links made; throws when a stream cannot be carried.</summary>
    /// <param name="sandboxId">For error messages.</param>
    /// <param name="containerId">The container whose bundle holds the files.</param>
    /// <param name="stdio">What the host asked for: file:// URLs or absolute paths, or empty for none.</param>
    /// <param name="hostBundle">The bundle directory on the host side of the share.</param>
    public static StdioSpec Translate(string sandboxId, string containerId, StdioSpec stdio, string hostBundle)
    {
        if (stdio.Stdin.Length > 0)
        {
            throw IsolaException.InvalidArgument(
                $"sandbox {sandboxId}: container {containerId}: stdin '{stdio.Stdin}' cannot reach a VM guest yet (only stdout and stderr files are carried, over the shared directory)");
        }

        var guestBundle = ContainerRootfs.GuestBundle(containerId);
        return new StdioSpec("", Output(sandboxId, containerId, stdio.Stdout, hostBundle, guestBundle),
            Output(sandboxId, containerId, stdio.Stderr, hostBundle, guestBundle));
    }

    /// <summary>Deletes the share twins of an exec's files (the host's copies stay).</summary>
    public static void RemoveExecFiles(string hostBundle, string execId)
    {
        if (!Directory.Exists(hostBundle))
        {
            return;
        }

        foreach (var file in Directory.GetFiles(hostBundle, $"exec-{execId}.*"))
        {
            File.Delete(file);
        }
    }

    private static string Output(string sandboxId, string containerId, string url, string hostBundle, string guestBundle)
    {
        if (url.Length == 0)
        {
            return "";
        }

        var hostPath = url.StartsWith("file://", StringComparison.Ordinal) ? Uri.UnescapeDataString(url[7..]) : url;
        if (!Path.IsPathFullyQualified(hostPath))
        {
            throw IsolaException.InvalidArgument(
                $"sandbox {sandboxId}: container {containerId}: output '{url}' cannot reach a VM guest: only files (file:// or an absolute path) are carried");
        }

        var name = Path.GetFileName(hostPath);
        var twin = Path.Combine(hostBundle, name);
        Directory.CreateDirectory(Path.GetDirectoryName(hostPath)!);
        if (!File.Exists(hostPath))
        {
            using (File.Create(hostPath))
            {
            }

            File.SetUnixFileMode(hostPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        }

        File.Delete(twin);
        if (LibC.Link(hostPath, twin) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != EXDEV)
            {
                throw IsolaException.Internal($"sandbox {sandboxId}: container {containerId}: cannot link {hostPath} into the shared directory: {Marshal.GetPInvokeErrorMessage(errno)}");
            }

            // Another filesystem: the share holds the file and the host's path points at it (gone with the bundle).
            using (File.Create(twin))
            {
            }

            File.Delete(hostPath);
            File.CreateSymbolicLink(hostPath, twin);
        }

        return "file://" + guestBundle + "/" + name;
    }
}
