using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Execution;
using DotnetMerge.Output;
using DotnetMerge.Planning;

namespace DotnetMerge.Soups;

/// <summary>Model soups (Wortsman et al., 2022): the uniform soup averages every ingredient; the greedy soup scores
/// each ingredient with an evaluator, sorts them best first, and adds each next one only if the soup's score does not
/// drop. Both write the final soup as an equal-weight <c>linear</c> merge of the chosen ingredients (so the model card's
/// definition reproduces it with <c>dotnet merge run</c>), with the table of steps in the model card.</summary>
public static class ModelSoup
{
    /// <summary>Greedy soup. <paramref name="evaluator"/> scores a model directory (higher is better); it is called once
    /// per ingredient, then once per candidate soup (written to a scratch directory that is removed afterwards).</summary>
    public static async Task<SoupResult> GreedyAsync(IReadOnlyList<string> models, Func<string, CancellationToken, Task<double>> evaluator,
        SoupOptions options, IMergeProgress? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        progress ??= NullProgress.Instance;
        var paths = LinearDefinition.FullPaths(models, options.Merge.WorkingDirectory);
        OutputTransaction.CheckLocation(options.OutputDirectory, options.Merge.Force, paths);

        progress.Stage("checking the ingredients");
        var definition = LinearDefinition.Create(paths, paths.Select(_ => 1.0).ToList(), "greedy soup: every ingredient, for the compatibility check");
        using var plan = LinearDefinition.PlanSameShapes(definition, options.Merge);
        foreach (var w in plan.Warnings) progress.Warning(w);

        var steps = new List<SoupStep>();
        var kept = new List<int>();
        double best;
        using (var work = WorkDirectory.Create(options.OutputDirectory, options.WorkDirectory))
        using (var soup = new RunningAverage(plan, work.Path, options.Merge.MaxShardBytes))
        {
            var scores = await ScoreIngredientsAsync(plan, paths, evaluator, options, work.Path, progress, cancellationToken).ConfigureAwait(false);
            var order = Enumerable.Range(0, paths.Count).OrderByDescending(i => scores[i]).ToList();
            kept.Add(order[0]);
            best = scores[order[0]];
            steps.Add(new SoupStep(1, paths[order[0]], best, best, SoupDecision.Start, 1));
            soup.Start(order[0]);
            foreach (var next in order.Skip(1))
            {
                progress.Stage($"candidate soup of {soup.Count + 1}: adding {paths[next]}");
                var candidate = await soup.CandidateAsync(next, progress, cancellationToken).ConfigureAwait(false);
                double score;
                try { score = await evaluator(candidate.ModelDirectory, cancellationToken).ConfigureAwait(false); }
                catch
                {
                    RunningAverage.Reject(candidate);
                    throw;
                }
                bool keep = options.Strict ? score > best : score >= best;
                if (keep)
                {
                    soup.Accept(candidate);
                    kept.Add(next);
                    best = score;
                }
                else RunningAverage.Reject(candidate);
                steps.Add(new SoupStep(steps.Count + 1, paths[next], scores[next], score, keep ? SoupDecision.Kept : SoupDecision.Rejected, soup.Count));
            }
        }

        var rule = options.Strict ? "strictly improves (`>`, as in the paper's code)" : "does not drop (`>=`)";
        var card = $"### Greedy soup\n\nIngredients were scored by the evaluator, sorted best first, and each next one was added to the running " +
                   $"average only when the soup's score {rule}. {kept.Count} of {paths.Count} ingredients were kept; the soup's score is " +
                   $"{SoupResult.FormatScore(best)}.\n\n" + SoupResult.FormatTable(steps);
        var weights = paths.Select((p, i) => new SoupWeight(p, kept.Contains(i) ? 1.0 / kept.Count : 0.0)).ToList();
        var keptPaths = paths.Where((_, i) => kept.Contains(i)).ToList();
        var merge = await WriteSoupAsync(keptPaths, "greedy soup: the kept ingredients, in equal parts", options, card, progress, cancellationToken).ConfigureAwait(false);
        return new SoupResult(merge.OutputDirectory, "greedy", steps, weights, best, merge);
    }

    /// <summary>Uniform soup: the equal-weight average of every ingredient (exactly the <c>linear</c> method with equal
    /// weights). With an <paramref name="evaluator"/>, every ingredient and the soup are scored for the table.</summary>
    public static async Task<SoupResult> UniformAsync(IReadOnlyList<string> models, SoupOptions options,
        Func<string, CancellationToken, Task<double>>? evaluator = null, IMergeProgress? progress = null, CancellationToken cancellationToken = default)
    {
        progress ??= NullProgress.Instance;
        var paths = LinearDefinition.FullPaths(models, options.Merge.WorkingDirectory);
        OutputTransaction.CheckLocation(options.OutputDirectory, options.Merge.Force, paths);
        const string comment = "uniform soup: every ingredient, in equal parts";
        var weights = paths.Select(p => new SoupWeight(p, 1.0 / paths.Count)).ToList();
        if (evaluator is null)
        {
            var steps = paths.Select((p, i) => new SoupStep(i + 1, p, null, null, SoupDecision.Uniform, i + 1)).ToList();
            var merge = await WriteSoupAsync(paths, comment, options, UniformCard(steps, null), progress, cancellationToken).ConfigureAwait(false);
            return new SoupResult(merge.OutputDirectory, "uniform", steps, weights, null, merge);
        }

        // The soup is written and scored in the scratch directory, then moved into place with the score in its card.
        using var work = WorkDirectory.Create(options.OutputDirectory, options.WorkDirectory);
        var scratch = Path.Combine(work.Path, "soup");
        var definition = LinearDefinition.Create(paths, paths.Select(_ => 1.0).ToList(), comment);
        using var plan = MergeRunner.Plan(definition, options.Merge);
        foreach (var w in plan.Warnings) progress.Warning(w);
        var scores = await ScoreIngredientsAsync(plan, paths, evaluator, options, work.Path, progress, cancellationToken).ConfigureAwait(false);
        var result = await MergeRunner.ExecuteAsync(plan, scratch, options.Merge with { Force = true, WriteModelCard = false }, progress, cancellationToken).ConfigureAwait(false);
        progress.Stage("scoring the soup");
        double soupScore = await evaluator(scratch, cancellationToken).ConfigureAwait(false);
        var scored = paths.Select((p, i) => new SoupStep(i + 1, p, scores[i], null, SoupDecision.Uniform, i + 1)).ToList();

        using var transaction = OutputTransaction.Begin(options.OutputDirectory, options.Merge.Force, paths);
        foreach (var file in Directory.EnumerateFiles(scratch))
            File.Move(file, Path.Combine(transaction.StagingDirectory, Path.GetFileName(file)));
        if (options.Merge.WriteModelCard)
            ModelCard.Write(plan, transaction.StagingDirectory, Path.GetFileName(transaction.OutputDirectory), UniformCard(scored, soupScore));
        transaction.Commit();
        return new SoupResult(transaction.OutputDirectory, "uniform", scored, weights, soupScore, result with { OutputDirectory = transaction.OutputDirectory });
    }

    /// <summary>Scores every ingredient. The evaluator takes a model directory: a local directory or a Hugging Face id
    /// (its snapshot) is scored in place; an adapted model (<c>base+adapter</c>) exists nowhere as a directory, so it is
    /// written to the scratch directory for its own evaluation (the adapted tensors exactly, as a one-model linear merge)
    /// and removed right after.</summary>
    private static async Task<double[]> ScoreIngredientsAsync(MergePlan plan, IReadOnlyList<string> paths,
        Func<string, CancellationToken, Task<double>> evaluator, SoupOptions options, string work, IMergeProgress progress, CancellationToken ct)
    {
        var scores = new double[paths.Count];
        for (int i = 0; i < paths.Count; i++)
        {
            progress.Stage($"scoring ingredient {i + 1}/{paths.Count}: {paths[i]}");
            var reference = ModelReference.Parse(paths[i]);
            var model = plan.Models.First(m => m.Reference.Equals(reference));
            if (model.Adapter is null)
            {
                scores[i] = await evaluator(model.Directory, ct).ConfigureAwait(false);
                continue;
            }
            var adapted = Path.Combine(work, $"ingredient-{i + 1}");
            var definition = LinearDefinition.Create([paths[i]], [1.0], "an adapted ingredient, written for its evaluation");
            using (var single = MergeRunner.Plan(definition, options.Merge))
                await MergeRunner.ExecuteAsync(single, adapted, options.Merge with { Force = true, WriteModelCard = false }, NullProgress.Instance, ct).ConfigureAwait(false);
            try { scores[i] = await evaluator(adapted, ct).ConfigureAwait(false); }
            finally { WorkDirectory.TryDelete(adapted); }
        }
        return scores;
    }

    private static string UniformCard(IReadOnlyList<SoupStep> steps, double? score)
        => "### Uniform soup\n\nEvery ingredient in equal parts" + (score is { } s ? $"; the soup's score is {SoupResult.FormatScore(s)}" : "") + ".\n\n"
           + SoupResult.FormatTable(steps);

    private static async Task<MergeRunner.MergeResult> WriteSoupAsync(IReadOnlyList<string> paths, string comment, SoupOptions options,
        string card, IMergeProgress? progress, CancellationToken ct)
    {
        progress ??= NullProgress.Instance;
        progress.Stage($"writing the soup of {paths.Count} ingredient{(paths.Count == 1 ? "" : "s")}");
        var definition = LinearDefinition.Create(paths, paths.Select(_ => 1.0).ToList(), comment);
        using var plan = MergeRunner.Plan(definition, options.Merge);
        foreach (var w in plan.Warnings) progress.Warning(w);
        return await MergeRunner.ExecuteAsync(plan, options.OutputDirectory, options.Merge, progress, ct, card).ConfigureAwait(false);
    }
}
