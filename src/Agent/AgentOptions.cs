namespace Isola.Agent;

/// <summary>The command line: host mode serves a Unix socket (tests), guest mode (`--guest`, or running as PID 1)
/// prepares the VM and serves the virtio-serial port.</summary>
internal sealed record AgentOptions
{
    public const string Usage =
        "usage: isola-agent --listen unix:///path/agent.sock [--runc PATH] [--root DIR] [--state DIR] [--no-pivot] [--verbose]\n" +
        "       isola-agent --guest [--runc PATH] [--root DIR] [--state DIR] [--no-pivot] [--verbose]";

    public bool Guest { get; init; }

    /// <summary>The Unix socket path of host mode.</summary>
    public string? Listen { get; init; }

    public string Runc { get; init; } = "runc";

    public string Root { get; init; } = "/run/isola-agent/runc";

    public string State { get; init; } = "/run/isola-agent/state";

    public bool NoPivot { get; init; }

    public bool Verbose { get; init; }

    /// <summary>Parses <paramref name="args"/>.</summary>
    /// <exception cref="ArgumentException">An unknown or incomplete option; the message says which.</exception>
    public static AgentOptions Parse(IReadOnlyList<string> args, bool isPid1)
    {
        var options = new AgentOptions { Guest = isPid1 };
        for (var i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            options = args[i] switch
            {
                "--guest" => options with { Guest = true },
                "--listen" => options with { Listen = UnixPath(Value()) },
                "--runc" => options with { Runc = Value() },
                "--root" => options with { Root = Value() },
                "--state" => options with { State = Value() },
                "--no-pivot" => options with { NoPivot = true },
                "--verbose" or "-v" => options with { Verbose = true },
                var other => throw new ArgumentException($"unknown option '{other}'"),
            };
        }

        if (!options.Guest && options.Listen is null)
        {
            throw new ArgumentException("host mode needs --listen unix:///path");
        }

        return options;
    }

    private static string UnixPath(string address)
    {
        var path = address.StartsWith("unix://", StringComparison.Ordinal) ? address["unix://".Length..] : address;
        return path.StartsWith('/') ? path : throw new ArgumentException($"--listen '{address}': expected unix:///absolute/path");
    }

    /// <summary>The full path of the runc binary: as given when it holds a '/', else the first match on PATH.</summary>
    public string ResolveRunc()
    {
        if (Runc.Contains('/'))
        {
            return File.Exists(Runc) ? Runc : throw new ArgumentException($"runc binary {Runc} does not exist");
        }

        var path = Environment.GetEnvironmentVariable("PATH") is { Length: > 0 } p ? p : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        return path.Split(':', StringSplitOptions.RemoveEmptyEntries).Select(dir => Path.Combine(dir, Runc)).FirstOrDefault(File.Exists)
            ?? throw new ArgumentException($"{Runc} not found on PATH ({path}): install runc or pass --runc PATH");
    }
}
