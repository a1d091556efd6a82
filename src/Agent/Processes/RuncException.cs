namespace Isola.Agent.Processes;

/// <summary>A runc command failed; <see cref="Exception.Message"/> is runc's own last error line.</summary>
internal sealed class RuncException : Exception
{
    public RuncException(string command, string message)
        : base(message)
    {
        Command = command;
    }

    /// <summary>The runc subcommand that failed (create, start, kill, ...).</summary>
    public string Command { get; }
}
