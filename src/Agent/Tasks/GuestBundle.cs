using Isola.TaskApi.Protos.Agent;
using Isola.TaskApi.Protos.Task;

namespace Isola.Agent.Tasks;

/// <summary>
/// A bundle the agent writes inside the guest, for a VM that shares no filesystem with the host: the host carries
/// config.json in Create's options (Any "isola.agent.v1.BundleConfig") and the rootfs as a hot-plugged block device.
/// </summary>
internal static class GuestBundle
{
    public const string TypeUrl = "isola.agent.v1.BundleConfig";

    /// <summary>The carried config.json, or null when the bundle is expected to exist already.</summary>
    public static byte[]? Carried(CreateTaskRequest request, string name)
    {
        if (request.Options is not { } options || !options.TypeUrl.EndsWith(TypeUrl, StringComparison.Ordinal))
        {
            return null;
        }

        try
        {
            var config = BundleConfig.Parser.ParseFrom(options.Value).ConfigJson;
            return config.IsEmpty ? throw IsolaException.InvalidArgument($"{name}: {TypeUrl} carries no config.json") : config.ToByteArray();
        }
        catch (Google.Protobuf.InvalidProtocolBufferException e)
        {
            throw IsolaException.InvalidArgument($"{name}: malformed {TypeUrl}: {e.Message}");
        }
    }

    /// <summary>Creates <paramref name="bundle"/> (which must not exist) with config.json and an empty rootfs.</summary>
    public static void Write(string bundle, byte[] config, string name)
    {
        if (Path.GetFullPath(bundle) != bundle.TrimEnd('/') || bundle == "/")
        {
            throw IsolaException.InvalidArgument($"{name}: bundle '{bundle}' must be a normalised absolute path");
        }

        if (Directory.Exists(bundle) || File.Exists(bundle))
        {
            throw IsolaException.AlreadyExists($"{name}: bundle {bundle} already exists");
        }

        var owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(Path.GetDirectoryName(bundle)!, owner);
        Directory.CreateDirectory(bundle, owner);
        File.WriteAllBytes(Path.Combine(bundle, "config.json"), config);
        Directory.CreateDirectory(Path.Combine(bundle, "rootfs"), owner);
    }

    /// <summary>Removes what <see cref="Write"/> made, one entry at a time: a rootfs still mounted stops it.</summary>
    public static bool Remove(string bundle, out string error)
    {
        error = "";
        try
        {
            File.Delete(Path.Combine(bundle, "config.json"));
            if (Directory.Exists(Path.Combine(bundle, "rootfs")))
            {
                Directory.Delete(Path.Combine(bundle, "rootfs"), recursive: false);
            }

            Directory.Delete(bundle, recursive: false);
            return true;
        }
        catch (DirectoryNotFoundException)
        {
            return true;
        }
        catch (IOException e)
        {
            error = e.Message;
            return false;
        }
    }
}
