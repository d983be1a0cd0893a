using System.Globalization;
using System.Text.RegularExpressions;
using DotnetMerge.Engine;
using DotnetMerge.Execution;

namespace DotnetMerge.Soups;

/// <summary>How checkpoints are averaged.</summary>
public sealed record AverageOptions
{
    /// <summary>Only the last N checkpoints (in training order).</summary>
    public int? Last { get; init; }

    /// <summary>Exponential weighting: the i-th checkpoint from the end (i = 0 for the last) gets weight decay^i,
    /// normalised to sum to 1. Null: equal weights.</summary>
    public double? EmaDecay { get; init; }
}

/// <summary>Checkpoint averaging (the weight-averaging end of a training run): an equal-weight or exponentially weighted
/// <c>linear</c> merge of checkpoints of one run, given as directories or as a training output directory with
/// <c>checkpoint-STEP</c> folders (sorted by step number).</summary>
public static partial class CheckpointAverage
{
    [GeneratedRegex(@"^checkpoint-(\d+)$")]
    private static partial Regex CheckpointName();

    /// <summary>The checkpoints in training order: one directory holding <c>checkpoint-STEP</c> folders expands to them,
    /// sorted by step; otherwise the directories as given.</summary>
    public static IReadOnlyList<string> ResolveCheckpoints(IReadOnlyList<string> paths)
    {
        if (paths.Count == 0) throw new ArgumentException("give the checkpoints to average, or a training output directory with checkpoint-* folders");
        if (paths.Count == 1 && Directory.Exists(paths[0]))
        {
            var steps = Directory.EnumerateDirectories(paths[0])
                .Select(d => (Path: d, Match: CheckpointName().Match(Path.GetFileName(d))))
                .Where(x => x.Match.Success)
                .Select(x => (x.Path, Step: decimal.Parse(x.Match.Groups[1].Value, CultureInfo.InvariantCulture)))
                .OrderBy(x => x.Step).Select(x => x.Path).ToList();
            if (steps.Count > 0) return steps;
        }
        return paths;
    }

    /// <summary>The weights of <paramref name="count"/> checkpoints in training order (summing to 1).</summary>
    public static IReadOnlyList<double> Weights(int count, double? emaDecay)
    {
        if (count < 1) throw new ArgumentException("no checkpoints to average");
        if (emaDecay is not { } decay) return Enumerable.Repeat(1.0 / count, count).ToList();
        if (!(decay > 0 && decay <= 1)) throw new ArgumentException($"--ema decay must be in (0, 1], got {decay.ToString(CultureInfo.InvariantCulture)}");
        var raw = Enumerable.Range(0, count).Select(i => Math.Pow(decay, count - 1 - i)).ToList();
        double sum = raw.Sum();
        return raw.Select(w => w / sum).ToList();
    }

    /// <summary>"1 checkpoint", "5 checkpoints".</summary>
    public static string Checkpoints(int count) => count.ToString(CultureInfo.InvariantCulture) + (count == 1 ? " checkpoint" : " checkpoints");

    /// <summary>Averages the checkpoints into <paramref name="outputDirectory"/> (atomically, with a model card).</summary>
    public static async Task<(MergeRunner.MergeResult Merge, IReadOnlyList<SoupWeight> Weights)> RunAsync(IReadOnlyList<string> checkpoints,
        string outputDirectory, AverageOptions average, MergeOptions options, IMergeProgress? progress = null, CancellationToken cancellationToken = default)
    {
        progress ??= NullProgress.Instance;
        var ordered = ResolveCheckpoints(checkpoints);
        if (average.Last is { } last)
        {
            if (last < 1) throw new ArgumentException("--last must be at least 1");
            if (last > ordered.Count)
                progress.Warning($"--last {last.ToString(CultureInfo.InvariantCulture)}: there are only {Checkpoints(ordered.Count)}; averaging all of them");
            ordered = ordered.Skip(Math.Max(0, ordered.Count - last)).ToList();
        }
        var paths = LinearDefinition.FullPaths(ordered, options.WorkingDirectory);
        var weights = Weights(paths.Count, average.EmaDecay);
        var how = average.EmaDecay is { } d
            ? $"exponentially weighted average (decay {d.ToString("R", CultureInfo.InvariantCulture)}: the i-th checkpoint from the end weighs decay^i, normalised)"
            : "equal-weight average";
        var definition = LinearDefinition.Create(paths, weights, $"checkpoint averaging: {how} of {Checkpoints(paths.Count)}, in training order");
        progress.Stage("checking the checkpoints and planning");
        using var plan = MergeRunner.Plan(definition, options);
        foreach (var w in plan.Warnings) progress.Warning(w);
        var card = $"### Checkpoint average\n\nAn {how} of {Checkpoints(paths.Count)}:\n\n| checkpoint | weight |\n|---|---:|\n"
                   + string.Concat(paths.Select((p, i) => $"| `{p}` | {weights[i].ToString("G6", CultureInfo.InvariantCulture)} |\n"));
        var merge = await MergeRunner.ExecuteAsync(plan, outputDirectory, options, progress, cancellationToken, card).ConfigureAwait(false);
        return (merge, paths.Select((p, i) => new SoupWeight(p, weights[i])).ToList());
    }
}
