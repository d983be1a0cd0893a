using DotnetMerge.Engine;

namespace DotnetMerge.Tuning;

/// <summary>How a search runs (<c>dotnet merge tune</c>).</summary>
public sealed record TuneOptions
{
    /// <summary>Where the best model is written.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Trials at most (each one merge and one evaluation).</summary>
    public required int Budget { get; init; }

    /// <summary>"grid", "random" or "cma-es"; null: grid when every searched value is a set, CMA-ES otherwise.</summary>
    public string? Strategy { get; init; }

    /// <summary>Seed of the search (random points, CMA-ES samples).</summary>
    public ulong Seed { get; init; }

    /// <summary>Candidates merged and evaluated at the same time.</summary>
    public int Parallel { get; init; } = 1;

    /// <summary>Keep every candidate (in <c>OUT.trials/</c>) instead of deleting it once scored.</summary>
    public bool Keep { get; init; }

    /// <summary>Continue the search of the trial log.</summary>
    public bool Resume { get; init; }

    /// <summary>The trial log; default <c>OUT.tune.jsonl</c> beside the output.</summary>
    public string? LogPath { get; init; }

    /// <summary>Parent of the scratch directory; default /dev/shm when the candidates fit there, else beside the output.</summary>
    public string? WorkDirectory { get; init; }

    /// <summary>Grid: points per searched range (null: as many as the budget allows).</summary>
    public int? GridPoints { get; init; }

    /// <summary>How each merge runs (Force applies to the output and to an existing log).</summary>
    public MergeOptions Merge { get; init; } = new();

    public static string DefaultLogPath(string outputDirectory) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(outputDirectory)) + ".tune.jsonl";
}
