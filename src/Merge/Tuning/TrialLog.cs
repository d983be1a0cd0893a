using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DotnetMerge.Engine;

namespace DotnetMerge.Tuning;

/// <summary>The trial log of a search, one JSON object a line: a header naming the search (definition fingerprint,
/// strategy, seed, searched labels), then one line per finished trial, appended and flushed as each trial ends. An
/// interrupted search continues from it (<c>--resume</c>): the strategy is replayed from its seed, and a proposed point
/// already in the log takes its logged score instead of a merge and an evaluation.</summary>
public sealed class TrialLog : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly object _lock = new();

    private TrialLog(string path, StreamWriter writer, Dictionary<int, Trial> finished)
    {
        Path = path;
        _writer = writer;
        Finished = finished;
    }

    public string Path { get; }

    /// <summary>Trials read from an existing log (by number).</summary>
    public IReadOnlyDictionary<int, Trial> Finished { get; }

    /// <summary>The header line of a search. <paramref name="gridPointsPerRange"/> is the grid's points per searched range
    /// (grid only, when a range is searched): a grid's points depend on it, and without --grid-points it follows --budget.</summary>
    public static string Header(SearchSpace space, string strategy, ulong seed, int? gridPointsPerRange = null)
    {
        var header = new JsonObject
        {
            ["tune"] = 1,
            ["definition"] = space.Fingerprint,
            ["strategy"] = strategy,
            ["seed"] = seed.ToString(CultureInfo.InvariantCulture),
            ["searched"] = new JsonArray(space.Dimensions.Select(d => (JsonNode?)JsonValue.Create(d.Label)).ToArray()),
        };
        if (gridPointsPerRange is { } k) header["gridPointsPerRange"] = k;
        return header.ToJsonString();
    }

    /// <summary>What differs between the header of a log and this search's, in words (null when they are the same search).</summary>
    private static string? Difference(string logged, string current)
    {
        if (logged == current) return null;
        JsonObject? a;
        try { a = JsonNode.Parse(logged) as JsonObject; }
        catch (JsonException) { a = null; }
        var b = (JsonObject)JsonNode.Parse(current)!;
        if (a is null || a["tune"]?.ToJsonString() != b["tune"]!.ToJsonString()) return $"its first line is not the header of a search: {logged}";
        string Text(JsonObject o, string key) => o[key]?.ToJsonString() ?? "none";
        var changes = new List<string>();
        if (Text(a, "definition") != Text(b, "definition")) changes.Add("the definition's text differs");
        if (Text(a, "searched") != Text(b, "searched")) changes.Add($"the searched values were {Text(a, "searched")}, now {Text(b, "searched")}");
        foreach (var (key, option) in new[] { ("strategy", "--strategy"), ("seed", "--seed") })
            if (Text(a, key) != Text(b, key)) changes.Add($"{option} was {Text(a, key)}, now {Text(b, key)}");
        if (Text(a, "gridPointsPerRange") != Text(b, "gridPointsPerRange") && Text(a, "strategy") == Text(b, "strategy"))
            changes.Add($"the grid had {Text(a, "gridPointsPerRange")} points per range, now {Text(b, "gridPointsPerRange")} (without --grid-points, --budget sets it: " +
                        $"resume with --grid-points {Text(a, "gridPointsPerRange")} to continue that grid with this budget)");
        return changes.Count > 0 ? string.Join("; ", changes) : $"its header is {logged}";
    }

    /// <summary>Starts a log at <paramref name="path"/> (an existing one is an error unless <paramref name="resume"/> or
    /// <paramref name="restart"/>), or, with <paramref name="resume"/>, reads the existing one and appends to it.</summary>
    public static TrialLog Open(string path, string header, bool resume, bool restart)
    {
        var finished = new Dictionary<int, Trial>();
        bool exists = File.Exists(path);
        if (exists && !resume && !restart)
            throw new MergeException(MergeErrorKind.Output, ErrorIds.OutputLocation,
                $"the trial log '{path}' of an earlier search exists; continue that search with --resume, or start over with --force");
        if (resume && exists)
        {
            var lines = File.ReadAllLines(path);
            if ((lines.Length == 0 ? "its header is missing" : Difference(lines[0], header)) is { } what)
                throw new MergeException(MergeErrorKind.Definition, ErrorIds.TuneLogMismatch,
                    $"the trial log '{path}' belongs to another search: {what}; resume with the definition and options of that search, or start over with --force");
            for (int i = 1; i < lines.Length; i++)
            {
                if (lines[i].Length == 0) continue;
                var trial = ParseLine(lines[i]);
                if (trial is null)
                {
                    if (i == lines.Length - 1) break; // a line cut short when the search was stopped
                    throw new MergeException(MergeErrorKind.Input, ErrorIds.TuneLogUnreadable, $"{path}({i + 1}): this line of the trial log cannot be read; remove it (its trial is run again) or start over with --force");
                }
                finished[trial.Number] = trial;
            }
        }
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        bool append = resume && exists;
        var writer = new StreamWriter(new FileStream(path, append ? FileMode.Open : FileMode.Create, FileAccess.Write, FileShare.Read), new UTF8Encoding(false));
        if (append)
        {
            // Drop a half-written last line before appending.
            var text = File.ReadAllText(path);
            int keep = text.LastIndexOf('\n') + 1;
            writer.BaseStream.SetLength(keep);
            writer.BaseStream.Seek(keep, SeekOrigin.Begin);
        }
        else
        {
            writer.Write(header + "\n");
            writer.Flush();
        }
        return new TrialLog(path, writer, finished);
    }

    /// <summary>Appends a finished trial and flushes it to disk.</summary>
    public void Append(Trial trial)
    {
        var o = new JsonObject
        {
            ["trial"] = trial.Number,
            ["point"] = new JsonArray(trial.Point.Select(p => (JsonNode?)JsonValue.Create(p)).ToArray()),
            ["values"] = new JsonArray(trial.Values.Select(ToJson).ToArray()),
            ["seconds"] = Math.Round(trial.Seconds, 3),
        };
        if (trial.Score is { } s) o["score"] = double.IsFinite(s) ? JsonValue.Create(s) : JsonValue.Create(s.ToString(CultureInfo.InvariantCulture));
        if (trial.Invalid is { } why) o["invalid"] = why;
        lock (_lock)
        {
            _writer.Write(o.ToJsonString() + "\n");
            _writer.Flush();
            if (_writer.BaseStream is FileStream fs) fs.Flush(flushToDisk: true);
        }
    }

    /// <summary>A trial line, or null when it is not one.</summary>
    public static Trial? ParseLine(string line)
    {
        try
        {
            if (JsonNode.Parse(line) is not JsonObject o || o["trial"] is null || o["point"] is not JsonArray point || o["values"] is not JsonArray values) return null;
            double? score = o["score"] switch
            {
                null => null,
                JsonValue v when v.TryGetValue<double>(out var d) => d,
                JsonValue v when v.TryGetValue<string>(out var t) && double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
                _ => throw new FormatException(),
            };
            return new Trial(o["trial"]!.GetValue<int>(), point.Select(p => p!.GetValue<double>()).ToArray(),
                values.Select(FromJson).ToArray(), score, o["invalid"]?.GetValue<string>(), o["seconds"]?.GetValue<double>() ?? 0);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or NullReferenceException)
        {
            return null;
        }
    }

    private static JsonNode? ToJson(object value) => value switch
    {
        double d => JsonValue.Create(d),
        bool b => JsonValue.Create(b),
        string s => JsonValue.Create(s),
        _ => null,
    };

    private static object FromJson(JsonNode? node) => node switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.GetValue<double>(),
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        JsonValue v => v.GetValue<string>(),
        _ => throw new FormatException(),
    };

    public void Dispose() => _writer.Dispose();
}
