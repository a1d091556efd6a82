using System.Diagnostics;
using System.Text;

namespace Isola.Bench;

/// <summary>
/// When marker lines first appear in a VM's console file, on the host's clock. A guest's own clock cannot time a floor
/// that is compared with a host-timed figure: under TCG the microvm guest's clock runs fast (the kernel is told
/// tsc_early_khz=2000000 while the virtual TSC ticks at the host's rate, and the LAPIC tick is calibrated from it), by
/// 10-20 % on the 2.4 GHz dev machine. QEMU writes each character the guest sends to the serial port to the file at
/// once, so a marker shows up within the 1 ms poll of its echo.
/// </summary>
internal sealed class ConsoleClock : IDisposable
{
    private readonly string[] _markers;
    private readonly Dictionary<string, double> _seen = new(StringComparer.Ordinal);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private Thread? _thread;
    private volatile bool _stop;

    public ConsoleClock(params string[] markers)
    {
        _markers = markers;
    }

    /// <summary>Starts watching <paramref name="console"/> (which may not exist yet).</summary>
    public void Start(string console)
    {
        _thread = new Thread(() => Watch(console)) { IsBackground = true, Name = "console-clock" };
        _thread.Start();
    }

    /// <summary>Milliseconds between the first appearances of two markers, or null when either was not seen.</summary>
    public double? Between(string first, string second)
    {
        lock (_seen)
        {
            return _seen.TryGetValue(first, out var a) && _seen.TryGetValue(second, out var b) ? b - a : null;
        }
    }

    public void Dispose()
    {
        _stop = true;
        _thread?.Join();
    }

    private void Watch(string console)
    {
        var text = new StringBuilder();
        long offset = 0;
        var buffer = new byte[64 * 1024];
        while (!_stop)
        {
            var length = File.Exists(console) ? new FileInfo(console).Length : 0;
            if (length > offset)
            {
                var now = _clock.Elapsed.TotalMilliseconds;
                using (var stream = new FileStream(console, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
                {
                    stream.Seek(offset, SeekOrigin.Begin);
                    int n;
                    while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
                    {
                        text.Append(Encoding.Latin1.GetString(buffer, 0, n));
                        offset += n;
                    }
                }

                var all = text.ToString();
                lock (_seen)
                {
                    foreach (var m in _markers.Where(m => !_seen.ContainsKey(m) && all.Contains(m, StringComparison.Ordinal)))
                    {
                        _seen[m] = now;
                    }
                }
            }

            Thread.Sleep(1);
        }
    }
}
