using System.Diagnostics.CodeAnalysis;

namespace Isola;

/// <summary>
/// The one rule for sandbox, container and exec ids: 1 to 64 characters of letters, digits, '.', '_' and '-',
/// not starting with '.' or '-'. Ids become directory names, so the rule also rules out path traversal.
/// </summary>
public static class IdValidator
{
    /// <summary>The longest id accepted.</summary>
    public const int MaxLength = 64;

    /// <summary>True when <paramref name="id"/> follows the rule.</summary>
    public static bool IsValid([NotNullWhen(true)] string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxLength || id[0] is '.' or '-')
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Throws an <see cref="IsolaErrorCode.InvalidArgument"/> error naming the id when it is invalid.</summary>
    /// <param name="id">The id to check.</param>
    /// <param name="kind">What the id names, for the message: "sandbox", "container" or "exec".</param>
    public static string Validate(string? id, string kind)
    {
        if (!IsValid(id))
        {
            throw IsolaException.InvalidArgument(
                $"invalid {kind} id '{id}': use 1-{MaxLength} letters, digits, '.', '_' or '-', not starting with '.' or '-'");
        }

        return id;
    }
}
