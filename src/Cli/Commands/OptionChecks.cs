using System.CommandLine;
using System.CommandLine.Parsing;

namespace Isola.Cli.Commands;

/// <summary>
/// Checks of option and argument values that run while the command line is parsed: a malformed value is a usage
/// error (exit 2) reported before a host starts, so nothing is touched. Each check is the same function the command
/// uses to convert the value, which throws <see cref="CliContext.Usage"/>.
/// </summary>
internal static class OptionChecks
{
    /// <summary>Adds <paramref name="check"/> as a validator of <paramref name="option"/>.</summary>
    public static Option<T> Checked<T>(this Option<T> option, Action<T?> check)
    {
        option.Validators.Add(result => Run(result, () => check(result.GetValueOrDefault<T>())));
        return option;
    }

    /// <summary>Adds <paramref name="check"/> as a validator of <paramref name="argument"/>.</summary>
    public static Argument<T> Checked<T>(this Argument<T> argument, Action<T?> check)
    {
        argument.Validators.Add(result => Run(result, () => check(result.GetValueOrDefault<T>())));
        return argument;
    }

    private static void Run(SymbolResult result, Action check)
    {
        try
        {
            check();
        }
        catch (CliUsageException e)
        {
            result.AddError(e.Message);
        }
        catch (InvalidOperationException)
        {
            // The value did not convert (say "-t abc"): the parser reports that already.
        }
    }

    /// <summary>A non-empty value, for options naming a file or directory (an empty one would mean the current directory).</summary>
    public static void NotEmpty(string? value, string option)
    {
        if (value is not null && string.IsNullOrWhiteSpace(value))
        {
            throw CliContext.Usage($"{option} must not be empty");
        }
    }

    /// <summary>A sandbox, container or exec id (or a sandbox name: the same rule) when given.</summary>
    public static void Id(string? value, string what)
    {
        if (value is not null && !IdValidator.IsValid(value))
        {
            throw CliContext.Usage(
                $"invalid {what} '{value}': use 1-{IdValidator.MaxLength} letters, digits, '.', '_' or '-', not starting with '.' or '-'");
        }
    }

    /// <summary>A duration in seconds that is not negative.</summary>
    public static void NotNegative(double? seconds, string option)
    {
        if (seconds is < 0)
        {
            throw CliContext.Usage($"{option} must not be negative (got {seconds})");
        }
    }

    /// <summary>DNS servers are IP addresses (what resolv.conf's nameserver takes), not host names.</summary>
    public static void DnsServers(string[]? values)
    {
        foreach (var value in values ?? [])
        {
            if (!Hosting.SandboxSpecRules.IsNameserver(value))
            {
                throw CliContext.Usage($"--dns '{value}': not an IPv4 or IPv6 address");
            }
        }
    }

    /// <summary>Published ports in the form <see cref="PortMapping.Parse"/> reads.</summary>
    public static void Ports(string[]? values)
    {
        foreach (var value in values ?? [])
        {
            try
            {
                PortMapping.Parse(value);
            }
            catch (IsolaException e)
            {
                throw CliContext.Usage("--publish: " + e.Message);
            }
        }
    }
}

/// <summary>A command line that is wrong in itself (exit code 2), as opposed to a request that failed (exit code 1).</summary>
internal sealed class CliUsageException(string message) : IsolaException(IsolaErrorCode.InvalidArgument, message);
