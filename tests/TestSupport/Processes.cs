namespace Isola.TestSupport;

/// <summary>What tests ask about processes the code under test started (a shim, a VMM, an `isola` command).</summary>
public static class Processes
{
    /// <summary>Whether process <paramref name="pid"/> runs: it exists and is neither a zombie nor dead (an exited child
    /// not yet reaped still has a /proc entry).</summary>
    public static bool IsRunning(long pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1][0] is not ('Z' or 'X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
