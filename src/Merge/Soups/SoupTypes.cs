using System.Globalization;
using System.Text;
using DotnetMerge.Engine;

namespace DotnetMerge.Soups;

/// <summary>How a soup is made and where it goes.</summary>
public sealed record SoupOptions
{
    /// <summary>Directory of the final soup (written atomically; must be empty unless <see cref="MergeOptions.Force"/>).</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Options of the underlying merges (dtype override, shard size, threads, --force, --allow-crimes...).</summary>
    public MergeOptions Merge { get; init; } = new();

    /// <summary>Greedy soup: add an ingredient only when the soup's score strictly improves (the paper's code);
    /// the default adds it when the score does not drop (<c>&gt;=</c>).</summary>
    public bool Strict { get; init; }

    /// <summary>Where candidate soups are written (default: a hidden directory beside the output, removed afterwards).</summary>
    public string? WorkDirectory { get; init; }
}

/// <summary>What happened to an ingredient.</summary>
public enum SoupDecision
{
    /// <summary>The best-scoring ingredient: the soup starts from it.</summary>
    Start,
    /// <summary>Added: the soup with it scored at least as well (strictly better with <see cref="SoupOptions.Strict"/>).</summary>
    Kept,
    /// <summary>Not added: the soup with it scored worse.</summary>
    Rejected,
    /// <summary>Uniform soup: every ingredient is in.</summary>
    Uniform,
}

/// <summary>One row of a soup's table. <see cref="Score"/>: the ingredient's own score (null when not evaluated);
/// <see cref="SoupScore"/>: the score of the candidate soup that includes it (greedy), null when not evaluated;
/// <see cref="SoupSize"/>: ingredients in the soup after this step.</summary>
public sealed record SoupStep(int Step, string Model, double? Score, double? SoupScore, SoupDecision Decision, int SoupSize);

/// <summary>An ingredient's share of the final soup (0 for rejected ones).</summary>
public sealed record SoupWeight(string Model, double Weight);

/// <summary>The outcome of a soup: the steps (in evaluation order), each ingredient's final weight (in the order given)
/// and the final soup's score (null when not evaluated).</summary>
public sealed record SoupResult(string OutputDirectory, string Kind, IReadOnlyList<SoupStep> Steps, IReadOnlyList<SoupWeight> Weights,
    double? SoupScore, MergeRunner.MergeResult Merge)
{
    /// <summary>The ingredients in the final soup.</summary>
    public IReadOnlyList<string> Kept => Weights.Where(w => w.Weight > 0).Select(w => w.Model).ToList();

    /// <summary>The steps as a Markdown table (printed by the CLI, and in the model card).</summary>
    public string ToMarkdown() => FormatTable(Steps);

    internal static string FormatTable(IReadOnlyList<SoupStep> steps)
    {
        var sb = new StringBuilder();
        sb.Append("| step | ingredient | its score | soup score | decision | soup size |\n");
        sb.Append("|---:|---|---:|---:|---|---:|\n");
        foreach (var s in steps)
        {
            sb.Append("| ").Append(s.Step.ToString(CultureInfo.InvariantCulture))
              .Append(" | `").Append(s.Model).Append("` | ").Append(FormatScore(s.Score))
              .Append(" | ").Append(FormatScore(s.SoupScore))
              .Append(" | ").Append(s.Decision switch
              {
                  SoupDecision.Start => "start (best ingredient)",
                  SoupDecision.Kept => "kept",
                  SoupDecision.Rejected => "rejected",
                  _ => "in (uniform)",
              })
              .Append(" | ").Append(s.SoupSize.ToString(CultureInfo.InvariantCulture)).Append(" |\n");
        }
        return sb.ToString();
    }

    /// <summary>A score as printed and in the card: six significant digits, "-" for none; a negative zero prints as 0.</summary>
    public static string FormatScore(double? value) => value is { } v ? (v == 0 ? 0.0 : v).ToString("G6", CultureInfo.InvariantCulture) : "-";
}
