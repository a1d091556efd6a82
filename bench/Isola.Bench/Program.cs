using System.Text.Json;
using Isola.Bench;
using Isola.TestSupport;

// isola-bench            lists the benchmarks
// isola-bench NAME ...   runs one and writes bench/results/NAME.json
var benchmarks = typeof(IBenchmark).Assembly.GetTypes()
    .Where(t => typeof(IBenchmark).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (IBenchmark)Activator.CreateInstance(t, nonPublic: true)!)
    .OrderBy(b => b.Name, StringComparer.Ordinal)
    .ToList();

if (args.Length == 0)
{
    foreach (var b in benchmarks)
    {
        Console.WriteLine($"{b.Name,-24} {b.Description}");
    }

    return 0;
}

var bench = benchmarks.FirstOrDefault(b => b.Name == args[0]);
if (bench is null)
{
    Console.Error.WriteLine($"isola-bench: unknown benchmark '{args[0]}' (run without arguments to list them)");
    return 2;
}

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
var result = await bench.RunAsync(args[1..], cts.Token);

var resultsDir = Path.Combine(RepoPaths.FindRoot() ?? Directory.GetCurrentDirectory(), "bench", "results");
Directory.CreateDirectory(resultsDir);
var json = JsonSerializer.Serialize(new
{
    result.Name,
    Date = DateTimeOffset.UtcNow,
    Machine = new { Environment.ProcessorCount, Os = Environment.OSVersion.VersionString },
    result.Metrics,
    result.Notes,
}, new JsonSerializerOptions { WriteIndented = true });
await File.WriteAllTextAsync(Path.Combine(resultsDir, $"{result.Name}.json"), json);
Console.WriteLine(json);
return 0;
