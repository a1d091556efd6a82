using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using Isola.Hosting;

namespace Isola.Cli.Output;

/// <summary>Writes results as an aligned table or as JSON (camelCase, enums as strings; the state records' format).</summary>
public sealed class OutputWriter
{
    private readonly CliContext _context;

    internal OutputWriter(CliContext context) => _context = context;

    /// <summary>True when <c>-o json</c> was given.</summary>
    public bool IsJson(ParseResult parse) => parse.GetValue(_context.OutputOption) == "json";

    // The records' conventions, minus the default encoder's HTML-safe escaping: output goes to terminals and scripts,
    // never into a web page, and "a+b" printed as "a\u002Bb" (or "é" as "\u00E9") is wrong for both. JSON's own
    // escapes (quotes, backslashes, control characters) stay.
    private static readonly JsonSerializerOptions CliJson = new(IsolaJson.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes <paramref name="value"/> as indented JSON.</summary>
    public Task JsonAsync<T>(T value) => _context.Stdout.WriteLineAsync(JsonSerializer.Serialize(value, CliJson));

    /// <summary>Writes a table: upper-case headers, columns separated by at least three spaces.</summary>
    public async Task TableAsync(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var all = new List<IReadOnlyList<string>> { headers };
        all.AddRange(rows);
        var widths = headers.Select((_, i) => all.Max(r => r[i].Length)).ToArray();
        foreach (var row in all)
        {
            var cells = row.Select((cell, i) => i == row.Count - 1 ? cell : cell.PadRight(widths[i] + 3));
            await _context.Stdout.WriteLineAsync(string.Concat(cells).TrimEnd()).ConfigureAwait(false);
        }
    }

    /// <summary>Writes "key: value" lines, aligned.</summary>
    public async Task PairsAsync(IEnumerable<(string Key, string Value)> pairs)
    {
        var list = pairs.ToList();
        var width = list.Count == 0 ? 0 : list.Max(p => p.Key.Length) + 1;
        foreach (var (key, value) in list)
        {
            await _context.Stdout.WriteLineAsync($"{(key + ":").PadRight(width)} {value}").ConfigureAwait(false);
        }
    }

    /// <summary>A timestamp in a table: UTC, seconds precision.</summary>
    public static string Time(DateTimeOffset? time) => time is { } t && t != default ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'") : "-";
}
