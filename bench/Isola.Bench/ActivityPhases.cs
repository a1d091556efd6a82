using System.Collections.Concurrent;
using System.Diagnostics;

namespace Isola.Bench;

/// <summary>
/// Collects the durations of the activities a plugin reports for each phase of its work (see the plugin's
/// ActivitySource), while <see cref="Recording"/> is set, so a benchmark can say where its time goes.
/// </summary>
internal sealed class ActivityPhases : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ConcurrentDictionary<string, ConcurrentBag<double>> _samples = new();
    private readonly ConcurrentQueue<string> _order = new();

    public ActivityPhases(string sourceName)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == sourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                if (Recording)
                {
                    var bag = _samples.GetOrAdd(activity.OperationName, name =>
                    {
                        _order.Enqueue(name);
                        return [];
                    });
                    bag.Add(activity.Duration.TotalMilliseconds);
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>Whether stopped activities are kept.</summary>
    public bool Recording { get; set; }

    /// <summary>The median duration (ms) of each phase among <paramref name="names"/> (all when null), in first-seen order.</summary>
    public IReadOnlyList<(string Phase, double MedianMs)> Medians(IEnumerable<string>? names = null)
    {
        var wanted = names?.ToHashSet();
        return _order.Where(n => wanted is null || wanted.Contains(n))
            .Select(n => (n, BenchResult.Median([.. _samples[n]]))).ToList();
    }

    public void Dispose() => _listener.Dispose();
}
