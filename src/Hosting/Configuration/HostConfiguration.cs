using Microsoft.Extensions.Configuration;

namespace Isola.Hosting;

/// <summary>The standard configuration sources of a host.</summary>
internal static class HostConfiguration
{
    /// <summary>The system-wide configuration file, used when neither --config nor ISOLA_CONFIG names one.</summary>
    public const string SystemConfigFile = "/etc/isola/isola.json";

    /// <summary>Takes <c>--config FILE</c> (or <c>--config=FILE</c>) out of <paramref name="args"/>.</summary>
    public static (string? File, string[] Remaining) SplitConfigArgument(string[] args)
    {
        string? file = null;
        var rest = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--config")
            {
                if (i + 1 >= args.Length)
                {
                    throw IsolaException.InvalidArgument("--config needs a file name");
                }

                file = args[++i];
            }
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal))
            {
                file = args[i]["--config=".Length..];
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        return (file, [.. rest]);
    }

    /// <summary>JSON file, environment, then command line (later wins).</summary>
    public static void AddStandardSources(IConfigurationBuilder configuration, string? file, string[] args)
    {
        file ??= Environment.GetEnvironmentVariable("ISOLA_CONFIG") is { Length: > 0 } fromEnv ? fromEnv : null;
        if (file is not null)
        {
            var path = Path.GetFullPath(file);
            if (!File.Exists(path))
            {
                throw IsolaException.InvalidArgument($"configuration file '{path}' does not exist");
            }

            AddJsonFile(configuration, path, optional: false);
        }
        else if (File.Exists(SystemConfigFile))
        {
            // Checked first: an optional JSON source sets up the JSON and file-provider machinery (~2.5 ms of every
            // command) even when it finds no file, which is the usual case.
            AddJsonFile(configuration, SystemConfigFile, optional: true);
        }

        // ISOLA__ROOT becomes "ISOLA:ROOT", which configuration keys match case-insensitively with "Isola:Root".
        configuration.AddEnvironmentVariables();
        if (args.Length > 0)
        {
            AddCommandLine(configuration, args);
        }
    }

    // The JSON and command-line providers are added from methods of their own, so that a command using neither does not
    // load their assemblies when this class is compiled.
    private static void AddJsonFile(IConfigurationBuilder configuration, string path, bool optional)
    {
        try
        {
            // ConfigurationManager loads a source as it is added: a bad file fails here.
            configuration.AddJsonFile(path, optional, reloadOnChange: false);
        }
        catch (InvalidDataException e)
        {
            throw IsolaException.InvalidArgument($"configuration file '{path}': {Describe(e)}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw IsolaException.InvalidArgument($"configuration file '{path}' cannot be read: {e.Message}");
        }
    }

    /// <summary>What is wrong with the file, with 1-based line and column where the parser knows them (its own
    /// message ends in 0-based "LineNumber: 2 | BytePositionInLine: 7.", which is dropped).</summary>
    private static string Describe(InvalidDataException e)
    {
        for (Exception? inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is not System.Text.Json.JsonException { LineNumber: { } line } json)
            {
                continue;
            }

            var message = json.Message;
            var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            var reason = (cut > 0 ? message[..cut] : message).TrimEnd('.', ' ');
            var column = json.BytePositionInLine is { } position ? $", column {position + 1}" : "";
            return $"invalid JSON at line {line + 1}{column}: {reason}";
        }

        // Duplicate keys and a top level that is not an object come as a FormatException without a position.
        return "invalid JSON: " + (e.InnerException ?? e).Message.TrimEnd('.');
    }

    private static void AddCommandLine(IConfigurationBuilder configuration, string[] args) => configuration.AddCommandLine(args);
}
