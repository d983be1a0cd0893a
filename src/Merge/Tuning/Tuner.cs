using System.Diagnostics;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Execution;
using DotnetMerge.Output;
using DotnetMerge.Soups;
using DotnetMerge.Tuning.Strategies;

namespace DotnetMerge.Tuning;

/// <summary>The search loop of <c>dotnet merge tune</c>: the strategy proposes points, each becomes a candidate definition
/// (the searched values written in), merged into a scratch directory like any merge, scored by the evaluator and deleted
/// (unless kept); every finished trial goes to the log at once. The best candidate is merged again into the output (a merge
/// is deterministic, so it is the model that was scored), with the trial table in its model card and the report beside it.</summary>
public static class Tuner
{
    public static async Task<TuneResult> RunAsync(SearchSpace space, Func<string, CancellationToken, Task<double>> evaluator, TuneOptions options,
        IMergeProgress? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        progress ??= NullProgress.Instance;
        if (options.Budget < 1) throw new ArgumentException($"--budget {options.Budget} must be at least 1 (the number of trials)");
        if (options.Parallel < 1) throw new ArgumentException($"--parallel {options.Parallel} must be at least 1");
        var strategyName = options.Strategy ?? (space.Dimensions.All(d => d.Setting.Kind == SearchKind.Choice) ? "grid" : "cma-es");
        var strategy = SearchStrategies.Create(strategyName, space, options.Budget, options.Seed, options.GridPoints);

        progress.Stage("checking the inputs with the first candidate");
        var first = Candidate(space, strategy is GridSearch ? FirstGridValues(space) : space.Decode(space.Dimensions.Select(_ => 0.5).ToList()), out _);
        long candidateBytes;
        IReadOnlyList<string> inputs;
        if (first is not null)
        {
            using var plan = MergeRunner.Plan(first, options.Merge);
            candidateBytes = plan.Shards.Sum(s => s.Tensors.Sum(t => t.ByteLength));
            inputs = plan.Models.SelectMany(m => m.InputDirectories).ToList();
            foreach (var w in plan.Warnings) progress.Warning(w);
        }
        else
        {
            candidateBytes = 0;
            inputs = [];
        }
        OutputTransaction.CheckLocation(options.OutputDirectory, options.Merge.Force, inputs);

        var logPath = options.LogPath ?? TuneOptions.DefaultLogPath(options.OutputDirectory);
        using var log = TrialLog.Open(logPath, TrialLog.Header(space, strategy.Name, options.Seed,
            strategy is GridSearch grid && space.Dimensions.Any(d => d.Setting.Kind == SearchKind.Range) ? grid.PointsPerRange : null), options.Resume, options.Merge.Force);
        var keepRoot = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.OutputDirectory)) + ".trials";
        using var work = WorkDirectory.Create(options.OutputDirectory, options.WorkDirectory ?? Scratch(candidateBytes, options.Parallel), "tune");
        var merge = options.Merge with
        {
            Force = true, // a candidate's card and mergekit_config.yml stay: an evaluator may read the values it was given
            Threads = Math.Max(1, options.Merge.Threads / options.Parallel),
        };

        var trials = new List<Trial>();
        int evaluated = 0, resumed = 0;
        while (trials.Count < options.Budget)
        {
            var batch = strategy.Next(options.Budget - trials.Count);
            if (batch.Count == 0) break;
            var results = new Trial[batch.Count];
            int start = trials.Count;
            var todo = new List<int>();
            for (int k = 0; k < batch.Count; k++)
            {
                int number = start + k + 1;
                if (log.Finished.TryGetValue(number, out var done))
                {
                    if (!SamePoint(done.Point, batch[k]))
                        throw new MergeException(MergeErrorKind.Definition, ErrorIds.TuneLogMismatch,
                            $"trial {number} of the log '{logPath}' is not the point this search proposes (another budget or grid?); resume with the options of the first run, or start over with --force");
                    results[k] = done;
                    resumed++;
                }
                else todo.Add(k);
            }

            await System.Threading.Tasks.Parallel.ForEachAsync(todo, new ParallelOptions { MaxDegreeOfParallelism = options.Parallel, CancellationToken = cancellationToken },
                async (k, ct) =>
                {
                    int number = start + k + 1;
                    var values = space.Decode(batch[k]);
                    progress.Stage($"trial {number}/{options.Budget} ({strategy.Name}): {Describe(space, values)}");
                    var trial = await RunTrialAsync(space, evaluator, number, batch[k], values, merge,
                        options.Keep ? Path.Combine(keepRoot, $"trial-{number:D4}") : Path.Combine(work.Path, $"trial-{number:D4}"), options.Keep, ct).ConfigureAwait(false);
                    log.Append(trial);
                    results[k] = trial;
                    progress.Stage($"trial {number}/{options.Budget}: " + (trial.Score is { } s ? "score " + Trial.FormatScore(s) : "invalid candidate: " + trial.Invalid));
                }).ConfigureAwait(false);
            evaluated += todo.Count;
            trials.AddRange(results);
            strategy.Tell(batch, results.Select(t => t.Score).ToList());
        }

        var best = trials.Where(t => t.Score is not null).OrderByDescending(t => t.Score!.Value).ThenBy(t => t.Number).FirstOrDefault()
            ?? throw new MergeException(MergeErrorKind.Definition, ErrorIds.TuneNoValidTrial,
                $"none of the {trials.Count} candidates was a valid definition; the first said: {trials.FirstOrDefault()?.Invalid}. Narrow the search forms");

        var labels = space.Dimensions.Select(d => d.Label).ToList();
        var result = new TuneResult(Path.GetFullPath(options.OutputDirectory), strategy.Name, labels, trials, best, evaluated, resumed, logPath);
        progress.Stage($"writing the best candidate (trial {best.Number}, score {Trial.FormatScore(best.Score)})");
        var definition = MergeRunner.ParseDefinition(space.Fill(best.Values), space.Path, out _);
        using (var plan = MergeRunner.Plan(definition, options.Merge))
        {
            await MergeRunner.ExecuteAsync(plan, options.OutputDirectory, options.Merge, progress, cancellationToken,
                TuneReport.CardSection(result), staging => TuneReport.WriteFiles(result, staging)).ConfigureAwait(false);
        }
        return result;
    }

    private static async Task<Trial> RunTrialAsync(SearchSpace space, Func<string, CancellationToken, Task<double>> evaluator, int number,
        double[] point, object[] values, MergeOptions merge, string directory, bool keep, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var definition = Candidate(space, values, out var invalid);
        if (definition is null) return new Trial(number, point, values, null, invalid, clock.Elapsed.TotalSeconds);
        try
        {
            using (var plan = MergeRunner.Plan(definition, merge))
                await MergeRunner.ExecuteAsync(plan, directory, merge, NullProgress.Instance, ct).ConfigureAwait(false);
            double score = await evaluator(directory, ct).ConfigureAwait(false);
            return new Trial(number, point, values, score, null, clock.Elapsed.TotalSeconds);
        }
        finally
        {
            if (!keep) WorkDirectory.TryDelete(directory);
        }
    }

    /// <summary>The candidate definition with <paramref name="values"/> filled in, or null (and why) when those values make
    /// an invalid definition (a combination the validator refuses, such as a DELLA window outside (0, 1)).</summary>
    private static MergeDefinition? Candidate(SearchSpace space, object[] values, out string? invalid)
    {
        try
        {
            invalid = null;
            return MergeRunner.ParseDefinition(space.Fill(values), space.Path, out _);
        }
        catch (DefinitionErrorsException e)
        {
            invalid = string.Join("; ", e.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.Id + " " + d.Message));
            return null;
        }
    }

    private static object[] FirstGridValues(SearchSpace space) => space.Decode(space.Dimensions.Select(_ => 0.0).ToList());

    /// <summary>/dev/shm when the candidates merged at the same time fit in its free space with a quarter to spare; null
    /// (beside the output) otherwise.</summary>
    private static string? Scratch(long candidateBytes, int parallel)
    {
        const string shm = "/dev/shm";
        if (!OperatingSystem.IsLinux() || !Directory.Exists(shm) || candidateBytes <= 0) return null;
        try
        {
            var free = new DriveInfo(shm).AvailableFreeSpace;
            return (double)candidateBytes * parallel * 1.25 < free ? shm : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    private static bool SamePoint(double[] a, double[] b) => a.Length == b.Length && a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1e-12);

    internal static string Describe(SearchSpace space, object[] values)
        => string.Join(", ", space.Dimensions.Select((d, i) => d.Label + " = " + SearchDimension.Display(values[i])));
}
