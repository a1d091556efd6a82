namespace Isola;

/// <summary>How a sandbox, container or exec process ended.</summary>
/// <param name="Code">Exit status: the exit code, or 128 + signal number when a signal ended it.</param>
/// <param name="ExitedAt">When it ended.</param>
public sealed record ExitStatus(uint Code, DateTimeOffset ExitedAt);
