namespace DotnetMerge.Methods;

/// <summary><c>breadcrumbs_ties</c>: Model Breadcrumbs sparsification with TIES sign election.</summary>
public sealed class BreadcrumbsTiesMerge() : GeneralizedTaskArithmetic(Sparsification.MagnitudeOutliers, signConsensus: true)
{
    public override string Name => "breadcrumbs_ties";
}
