using System.Runtime.InteropServices;
using Isola.Plugins.StratoVirt.Native;

namespace Isola.Plugins.StratoVirt.Controller;

/// <summary>
/// A process's stdout and stderr files in a VM sandbox. The guest cannot write to host paths, so each file the host
/// asked for gets a twin in the container's bundle on the virtiofs share that is the same inode: a hard link when the
/// file is on the state directory's mount, else a bind mount of the file onto the twin (link(2) cannot cross mounts;
/// the caller's file is never replaced). The agent appends to the guest path and the host reads the path it chose, so
/// the output is complete on the host as soon as the process exits, and it outlives the bundle. The share is writable
/// by the guest: twins are created exclusively and only ever unlinked, never followed.
/// </summary>
internal static class SharedStdio
{
    private const int EXDEV = 18;

    /// <summary>The stdio the guest agent must use, with the links made; throws when a stream cannot be carried.
    /// Stdin, which a file in the share cannot carry (the guest would read the file as it was, not a pipe's data),
    /// is streamed over the agent channel instead (<see cref="StreamedStdio"/>).</summary>
    /// <param name="sandboxId">For error messages.</param>
    /// <param name="taskAddress">The agent channel, for a streamed stdin.</param>
    /// <param name="containerId">The container whose bundle holds the files.</param>
    /// <param name="execId">The exec, or null for the container's init.</param>
    /// <param name="stdio">What the host asked for: file:// URLs or absolute paths, or empty for none.</param>
    /// <param name="hostBundle">The bundle directory on the host side of the share.</param>
    public static StdioSpec Translate(SandboxId sandboxId, string taskAddress, string containerId, string? execId, StdioSpec stdio, string hostBundle)
    {
        var guestBundle = ContainerRootfs.GuestBundle(containerId);
        var stdin = StreamedStdio.Translate(taskAddress, containerId, execId, new StdioSpec(stdio.Stdin, "", "")).Stdin;
        return new StdioSpec(stdin, Output(sandboxId, containerId, stdio.Stdout, hostBundle, guestBundle),
            Output(sandboxId, containerId, stdio.Stderr, hostBundle, guestBundle));
    }

    /// <summary>Deletes the share twins of an exec's files (the host's copies stay).</summary>
    public static void RemoveExecFiles(SandboxId sandboxId, string hostBundle, ExecId execId)
    {
        if (!Directory.Exists(hostBundle) || ContainerRootfs.IsSymbolicLink(hostBundle))
        {
            return;
        }

        foreach (var file in Directory.GetFiles(hostBundle, $"exec-{execId}.*"))
        {
            ContainerRootfs.DetachFileMount(sandboxId, file);
            File.Delete(file);
        }
    }

    private static bool IsRegularFile(string path) => LibC.IsRegularFile(path);

    private static string Output(SandboxId sandboxId, string containerId, string url, string hostBundle, string guestBundle)
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
        if (name is "" or "config.json" or "rootfs")
        {
            throw IsolaException.InvalidArgument(
                $"sandbox {sandboxId}: container {containerId}: output '{url}' cannot reach a VM guest: its file name is taken by the bundle");
        }

        if (ContainerRootfs.IsSymbolicLink(hostBundle))
        {
            throw IsolaException.FailedPrecondition($"sandbox {sandboxId}: container {containerId}: its bundle {hostBundle} was replaced by a link");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(hostPath)!);
        if (!File.Exists(hostPath))
        {
            using (new FileStream(hostPath, FileMode.CreateNew, FileAccess.Write))
            {
            }

            File.SetUnixFileMode(hostPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        }
        else if (File.GetAttributes(hostPath).HasFlag(FileAttributes.ReparsePoint) || !IsRegularFile(hostPath))
        {
            throw IsolaException.InvalidArgument(
                $"sandbox {sandboxId}: container {containerId}: output {hostPath} is not a regular file; a VM guest can only write files");
        }

        var twin = Path.Combine(hostBundle, name);
        ContainerRootfs.DetachFileMount(sandboxId, twin);
        File.Delete(twin);
        if (LibC.Link(hostPath, twin) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != EXDEV)
            {
                throw IsolaException.Internal($"sandbox {sandboxId}: container {containerId}: cannot link {hostPath} into the shared directory: {Marshal.GetPInvokeErrorMessage(errno)}");
            }

            // Another mount: an empty twin, created exclusively (a link the guest planted there is refused), with the
            // host's file bind-mounted onto it. It propagates into the virtiofs daemon as the rootfs mounts do.
            using (new FileStream(twin, FileMode.CreateNew, FileAccess.Write))
            {
            }

            if (LibC.Mount(hostPath, twin, null, LibC.MS_BIND, 0) != 0)
            {
                var error = LibC.LastError();
                File.Delete(twin);
                throw IsolaException.Internal($"sandbox {sandboxId}: container {containerId}: cannot bind {hostPath} into the shared directory: {error}");
            }
        }

        return "file://" + guestBundle + "/" + name;
    }
}
