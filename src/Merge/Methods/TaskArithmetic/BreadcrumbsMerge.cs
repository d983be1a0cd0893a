namespace DotnetMerge.Methods;

/// <summary><c>breadcrumbs</c>: Model Breadcrumbs: drop outliers and small deltas, mix linearly.</summary>
public sealed class BreadcrumbsMerge() : GeneralizedTaskArithmetic(Sparsification.MagnitudeOutliers, signConsensus: false)
{
    public override string Name => "breadcrumbs";
}
