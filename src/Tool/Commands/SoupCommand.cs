using System.CommandLine;
using System.Globalization;
using DotnetMerge.Soups;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge soup MODEL... -o OUT [--eval CMD] [--greedy|--uniform]</c>: model soups.</summary>
public static class SoupCommand
{
    public static Command Create(ToolConsole console)
    {
        var command = new Command("soup",
            "Average fine-tunes of one base into a model soup. Uniform: every model in equal parts. Greedy (needs --eval): score each model, " +
            "start from the best and add each next one only if the soup's score does not drop. The table of steps is printed and kept in the model card.");
        var models = new Argument<string[]>("models") { Description = "The ingredients: model directories, Hugging Face ids (org/name[@rev]) or LoRA-adapted models (base+adapter).", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output", "-o") { Description = "Directory for the soup (created; must be empty unless --force).", Required = true };
        var eval = new Option<string?>("--eval")
        {
            Description = "Evaluator command; {model} is replaced by the quoted model directory, and the number on the last non-empty line of its " +
                          "output is the score (higher is better). Runs through /bin/sh -c (cmd /c on Windows).",
        };
        var greedy = new Option<bool>("--greedy") { Description = "Greedy soup (the default when --eval is given)." };
        var uniform = new Option<bool>("--uniform") { Description = "Uniform soup (the default without --eval; with --eval, ingredients and soup are scored)." };
        var strict = new Option<bool>("--strict") { Description = "Greedy: add an ingredient only if the score strictly improves (the paper's code), not when it ties." };
        var timeout = new Option<string?>("--eval-timeout") { Description = "Time limit of one evaluation, e.g. 90, 90s, 15m, 2h (default: none); the evaluator's process tree is killed." };
        var options = new CommonOptions();
        command.Arguments.Add(models);
        foreach (var o in new Option[] { output, eval, greedy, uniform, strict, timeout }) command.Options.Add(o);
        options.AddTo(command);
        command.SetAction((result, ct) =>
        {
            var verbosity = options.GetVerbosity(result);
            return Cli.Guard(console, verbosity, async () =>
            {
                var command = result.GetValue(eval);
                bool isUniform = result.GetValue(uniform), isGreedy = result.GetValue(greedy);
                if (isUniform && isGreedy) throw new ArgumentException("choose one of --greedy and --uniform");
                if (!isUniform && !isGreedy) isGreedy = command is not null;
                if (isGreedy && command is null) throw new ArgumentException("a greedy soup needs an evaluator: --eval \"COMMAND {model}\"");
                var evaluator = command is null ? null : CommandEvaluator.Create(command, ParseTimeout(result.GetValue(timeout)));
                var soupOptions = new SoupOptions { OutputDirectory = result.GetValue(output)!, Merge = options.GetMergeOptions(result, console), Strict = result.GetValue(strict) };
                var reporter = new ProgressReporter(console, verbosity, !result.GetValue(options.NoProgress));
                var ingredients = result.GetValue(models)!;
                var soup = await reporter.RunAsync(p => isGreedy
                    ? ModelSoup.GreedyAsync(ingredients, evaluator!, soupOptions, p, ct)
                    : ModelSoup.UniformAsync(ingredients, soupOptions, evaluator, p, ct));
                if (verbosity >= Verbosity.Minimal)
                {
                    console.Out.Write(soup.ToMarkdown());
                    console.Out.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0} soup of {1} of {2} ingredients{3} written to {4}",
                        soup.Kind, soup.Kept.Count, soup.Weights.Count,
                        soup.SoupScore is { } s ? ", score " + SoupResult.FormatScore(s) : "", soup.OutputDirectory));
                }
                return ExitCodes.Success;
            }, ct);
        });
        return command;
    }

    /// <summary>Seconds, or a number with s, m or h.</summary>
    public static TimeSpan? ParseTimeout(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var t = text.Trim();
        double unit = t[^1] switch { 's' => 1, 'm' => 60, 'h' => 3600, _ => 0 };
        var number = unit == 0 ? t : t[..^1];
        if (unit == 0) unit = 1;
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !(v > 0) || double.IsInfinity(v))
            throw new ArgumentException($"--eval-timeout '{text}' is not a positive duration (e.g. 90, 90s, 15m, 2h)");
        return TimeSpan.FromSeconds(v * unit);
    }
}
