namespace Isola;

/// <summary>A process to run inside an existing container.</summary>
public sealed record ExecSpec
{
    /// <summary>The exec id; generated when null. A string converts to it implicitly, validated.</summary>
    public ExecId? ExecId { get; init; }

    /// <summary>The command and its arguments; must not be empty.</summary>
    public required IReadOnlyList<string> Args { get; init; }

    /// <summary>Environment variables as NAME=value.</summary>
    public IReadOnlyList<string> Env { get; init; } = [];

    /// <summary>Working directory; the container's when null.</summary>
    public string? Cwd { get; init; }

    /// <summary>Allocate a terminal.</summary>
    public bool Terminal { get; init; }

    /// <summary>Where stdio goes; null captures to files next to the container's logs.</summary>
    public StdioSpec? Stdio { get; init; }
}
