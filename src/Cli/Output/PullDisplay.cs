using System.Globalization;
using Isola.Images;

namespace Isola.Cli.Output;

/// <summary>One status line on stderr while a pull runs, redrawn in place, only when stderr is a terminal (a log or
/// a pipe gets nothing).</summary>
internal sealed class PullDisplay : IProgress<PullProgress>, IDisposable
{
    private readonly TextWriter _stderr;
    private readonly Dictionary<string, PullProgress> _blobs = new(StringComparer.Ordinal);
    private readonly Timer _timer;
    private bool _finished;

    private PullDisplay(TextWriter stderr)
    {
        _stderr = stderr;
        _timer = new Timer(_ => Draw(), null, TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(200));
    }

    /// <summary>A display when <paramref name="stderr"/> is the process's terminal; null otherwise.</summary>
    public static PullDisplay? For(TextWriter stderr) =>
        ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected ? new PullDisplay(stderr) : null;

    public void Report(PullProgress value)
    {
        lock (_blobs)
        {
            _blobs[value.Digest] = value;
        }
    }

    public void Finish()
    {
        Draw();
        lock (_blobs)
        {
            _finished = true;
            _stderr.WriteLine();
        }
    }

    public void Dispose() => _timer.Dispose();

    private void Draw()
    {
        lock (_blobs)
        {
            if (_finished || _blobs.Count == 0)
            {
                return;
            }

            var done = _blobs.Values.Count(b => b.Done);
            var bytes = _blobs.Values.Sum(b => b.Bytes);
            var total = _blobs.Values.Sum(b => b.Total);
            _stderr.Write(string.Create(CultureInfo.InvariantCulture, $"\rpulling: {done}/{_blobs.Count} blobs, {bytes / 1048576.0:0.0}/{total / 1048576.0:0.0} MiB   "));
        }
    }
}
