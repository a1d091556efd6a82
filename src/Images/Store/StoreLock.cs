namespace Isola.Images.Store;

/// <summary>
/// One writer at a time across every <c>isola</c> process sharing the store: an exclusive open of a lock file, which
/// .NET maps to <c>flock</c> on Unix, so the kernel drops the lock when a holder dies.
/// </summary>
internal static class StoreLock
{
    public static async Task<IDisposable> AcquireAsync(string path, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw IsolaException.Unavailable($"image store lock {path}: still held by another process after 60 s", e);
            }
        }
    }
}
