using Isola.Images.Content;

namespace Isola.Images.Registry;

/// <summary>Counts bytes read and reports the running total every 256 KiB.</summary>
internal sealed class ProgressStream(Stream inner, Action<long> report) : PassThroughReadStream(inner, ownsInner: false)
{
    private const long Step = 256 * 1024;
    private long _total;
    private long _reported;

    protected override void OnRead(ReadOnlySpan<byte> read, int asked)
    {
        _total += read.Length;
        if (_total - _reported >= Step)
        {
            _reported = _total;
            report(_total);
        }
    }
}
