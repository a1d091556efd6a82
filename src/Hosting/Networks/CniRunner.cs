using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Isola.Hosting.Networks;

/// <summary>
/// Runs a CNI plugin chain as the CNI specification says: each plugin is a program found in the plugin directories,
/// called with <c>CNI_COMMAND</c>, <c>CNI_CONTAINERID</c>, <c>CNI_NETNS</c>, <c>CNI_IFNAME</c> and <c>CNI_PATH</c> in its
/// environment and its configuration (name, version, the previous plugin's result, and the runtime settings it declares
/// a capability for) on stdin; it answers with a result, or an error object, on stdout.
/// </summary>
internal sealed class CniRunner(IReadOnlyList<string> pluginDirs)
{
    /// <summary>ADD through the chain; returns the last plugin's result.</summary>
    public async Task<JsonObject> AddAsync(CniNetwork network, string containerId, string netns, string ifName, JsonObject runtimeConfig, CancellationToken cancellationToken)
    {
        JsonObject? result = null;
        foreach (var plugin in network.Plugins)
        {
            result = await InvokeAsync("ADD", network, plugin, containerId, netns, ifName, runtimeConfig, result, cancellationToken).ConfigureAwait(false)
                ?? throw IsolaException.Internal($"CNI network {network.Name}: plugin {plugin["type"]} returned no result for ADD");
        }

        return result ?? new JsonObject();
    }

    /// <summary>DEL through the chain in reverse. Every plugin runs even when one fails (so nothing it could release
    /// stays held); the first failure is then thrown.</summary>
    public async Task DelAsync(CniNetwork network, string containerId, string netns, string ifName, JsonObject runtimeConfig, JsonObject? prevResult, CancellationToken cancellationToken)
    {
        Exception? first = null;
        foreach (var plugin in network.Plugins.Reverse())
        {
            try
            {
                await InvokeAsync("DEL", network, plugin, containerId, netns, ifName, runtimeConfig, prevResult, cancellationToken).ConfigureAwait(false);
            }
            catch (IsolaException e)
            {
                first ??= e;
            }
        }

        if (first is not null)
        {
            throw first;
        }
    }

    private async Task<JsonObject?> InvokeAsync(string command, CniNetwork network, JsonObject plugin, string containerId, string netns, string ifName,
        JsonObject runtimeConfig, JsonObject? prevResult, CancellationToken cancellationToken)
    {
        var type = plugin["type"]!.GetValue<string>();
        var program = pluginDirs.Select(d => Path.Combine(d, type)).FirstOrDefault(File.Exists)
            ?? throw IsolaException.FailedPrecondition($"CNI network {network.Name}: plugin '{type}' is not in {string.Join(", ", pluginDirs)} (install containernetworking-plugins)");
        var config = (JsonObject)plugin.DeepClone();
        config["name"] = network.Name;
        config["cniVersion"] = network.CniVersion;
        if (prevResult is not null)
        {
            config["prevResult"] = prevResult.DeepClone();
        }

        // Runtime settings go only to plugins that declare the capability (the spec's runtimeConfig contract).
        if (plugin["capabilities"] is JsonObject capabilities)
        {
            var granted = new JsonObject();
            foreach (var (key, value) in runtimeConfig)
            {
                if (capabilities[key]?.GetValue<bool>() == true && value is not null)
                {
                    granted[key] = value.DeepClone();
                }
            }

            config["runtimeConfig"] = granted;
        }

        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["CNI_COMMAND"] = command;
        start.Environment["CNI_CONTAINERID"] = containerId;
        start.Environment["CNI_NETNS"] = netns;
        start.Environment["CNI_IFNAME"] = ifName;
        start.Environment["CNI_PATH"] = string.Join(':', pluginDirs);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.StandardInput.WriteAsync(config.ToJsonString()).ConfigureAwait(false);
        process.StandardInput.Close();
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        var output = await stdout.ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            var message = ErrorMessage(output) ?? (await stderr.ConfigureAwait(false)).Trim();
            throw IsolaException.Internal($"CNI {command} of {containerId} on network {network.Name}: plugin {type}: {message.ReplaceLineEndings(" ")}");
        }

        return string.IsNullOrWhiteSpace(output) ? null : JsonNode.Parse(output) as JsonObject;
    }

    private static string? ErrorMessage(string output)
    {
        try
        {
            var error = JsonNode.Parse(output);
            var msg = error?["msg"]?.GetValue<string>();
            var details = error?["details"]?.GetValue<string>();
            return msg is null ? null : details is { Length: > 0 } ? $"{msg} ({details})" : msg;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
