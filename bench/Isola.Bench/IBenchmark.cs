namespace Isola.Bench;

/// <summary>One benchmark. Each lives in its own file; Program finds them all by reflection on this assembly.</summary>
internal interface IBenchmark
{
    /// <summary>The name given on the command line: <c>isola-bench NAME [args]</c>.</summary>
    string Name { get; }

    /// <summary>One line saying what it measures and its target.</summary>
    string Description { get; }

    /// <summary>Runs it and returns the figures, which Program writes to bench/results/NAME.json and prints.</summary>
    Task<BenchResult> RunAsync(string[] args, CancellationToken cancellationToken);
}

/// <summary>Figures of one benchmark run: named metrics (milliseconds, ratios, bytes) and free-form notes.</summary>
internal sealed record BenchResult(string Name, IReadOnlyDictionary<string, double> Metrics, IReadOnlyList<string> Notes)
{
    /// <summary>The median of <paramref name="samples"/>.</summary>
    public static double Median(IReadOnlyList<double> samples)
    {
        if (samples.Count == 0)
        {
            return double.NaN;
        }

        var sorted = samples.OrderBy(x => x).ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
