namespace Isola.Cli.Commands;

/// <summary>Parsing of option values shared by the commands; errors name the option and the bad value.</summary>
internal static class OptionParsing
{
    /// <summary>Parses UID[:GID] (numeric: the host does not read the image's /etc/passwd).</summary>
    internal static (uint Uid, uint Gid) User(string? value)
    {
        if (value is null)
        {
            return (0, 0);
        }

        var parts = value.Split(':');
        if (parts.Length > 2 || !uint.TryParse(parts[0], out var uid) || (parts.Length == 2 && !uint.TryParse(parts[1], out _)))
        {
            throw CliContext.Usage($"--user '{value}': expected numeric UID[:GID]");
        }

        return (uid, parts.Length == 2 ? uint.Parse(parts[1]) : uid);
    }

    /// <summary>Parses HOST:CONTAINER[:ro|rw] bind mounts; both paths must be absolute.</summary>
    internal static List<Mount> Mounts(string[]? values)
    {
        var result = new List<Mount>();
        foreach (var value in values ?? [])
        {
            var parts = value.Split(':');
            if (parts.Length is < 2 or > 3 || !Path.IsPathFullyQualified(parts[0]) || !parts[1].StartsWith('/') ||
                (parts.Length == 3 && parts[2] is not ("ro" or "rw")))
            {
                throw CliContext.Usage($"--mount '{value}': expected /host/path:/container/path[:ro|rw]");
            }

            result.Add(Mount.Bind(parts[0], parts[1], readOnly: parts.Length == 3 && parts[2] == "ro"));
        }

        return result;
    }

    /// <summary>Checks NAME=VALUE environment entries.</summary>
    internal static List<string> Env(string[]? values)
    {
        foreach (var value in values ?? [])
        {
            if (value.IndexOf('=') <= 0)
            {
                throw CliContext.Usage($"--env '{value}': expected NAME=VALUE");
            }
        }

        return [.. values ?? []];
    }

    /// <summary>Parses KEY=VALUE pairs; the error names the option and the bad value.</summary>
    internal static Dictionary<string, string> KeyValues(string[]? values, string option)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in values ?? [])
        {
            var eq = pair.IndexOf('=');
            if (eq <= 0)
            {
                throw CliContext.Usage($"{option} '{pair}': expected KEY=VALUE");
            }

            result[pair[..eq]] = pair[(eq + 1)..];
        }

        return result;
    }
}
