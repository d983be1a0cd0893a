namespace DotnetMerge.Analysis;

/// <summary>The figures of one part of the model (a layer, a group, the whole model) for the task models.</summary>
public sealed record PartFigures(string Part, DeltaSums Sums);

/// <summary>One input model as the compatibility summary sees it.</summary>
/// <param name="DeclaredBases">The base models its model card declares (front matter <c>base_model</c>).</param>
/// <param name="RelativeNorm">‖δ‖ / ‖base‖ over the whole model.</param>
public sealed record ModelSummary(string Name, IReadOnlyList<string> DeclaredBases, double RelativeNorm)
{
    /// <summary>A task vector this large (half the base's norm) is no fine-tune of this base: a different base or a
    /// different model altogether.</summary>
    public const double FarFromBase = 0.5;

    public bool LikelyOtherBase => RelativeNorm > FarFromBase;
}

/// <summary>A part where one fine-tune moved far: its relative norm there is at least <see cref="Ratio"/> times its
/// median over the layers (the parts to weight down or protect).</summary>
public sealed record FarPart(string Part, string Model, double RelativeNorm, double MedianLayerNorm)
{
    /// <summary>What counts as far: twice the model's median layer.</summary>
    public const double Threshold = 2;

    public double Ratio => RelativeNorm / MedianLayerNorm;
}

/// <summary>Everything <c>analyze</c> found: per layer, per group and whole-model sums for the task models
/// (every input but the base), and the compatibility summary.</summary>
public sealed class AnalysisReport
{
    public required string Method { get; init; }
    /// <summary>What the method's sparsification does, in words ("TIES magnitude trim", "none").</summary>
    public required string Sparsification { get; init; }
    /// <summary>The method trims or drops task-vector elements (TIES, DARE, breadcrumbs, DELLA): <c>keptFraction</c> can be below 1.</summary>
    public required bool Sparsifies { get; init; }
    public required string BaseModel { get; init; }
    public required IReadOnlyList<string> Models { get; init; }
    public required PartFigures Total { get; init; }
    /// <summary>The numbered layers in order (a layer no analysed tensor falls in is absent).</summary>
    public required IReadOnlyList<(int Layer, PartFigures Figures)> Layers { get; init; }
    /// <summary>The groups that hold analysed tensors, in <see cref="TensorGroup"/> order.</summary>
    public required IReadOnlyList<PartFigures> Groups { get; init; }
    public required IReadOnlyList<ModelSummary> Summary { get; init; }
    public required IReadOnlyList<FarPart> FarParts { get; init; }
    /// <summary>The merged model compared (<c>--merged</c>), or null.</summary>
    public string? MergedModel { get; init; }
    public required int TensorsAnalyzed { get; init; }
    /// <summary>Tensors not analysed: copied unchanged (non-float) or without a base tensor.</summary>
    public required int TensorsSkipped { get; init; }
    public required long BytesRead { get; init; }

    /// <summary>The measure of "delta mass" behind the kept and retained fractions.</summary>
    public const string MassMeasure = "squared L2 (sum of squared task-vector elements)";
}
