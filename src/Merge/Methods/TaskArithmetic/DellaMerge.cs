namespace DotnetMerge.Methods;

/// <summary><c>della</c>: DELLA MagPrune (rank-weighted random drop) with TIES sign election.</summary>
public sealed class DellaMerge() : GeneralizedTaskArithmetic(Sparsification.DellaMagprune, signConsensus: true)
{
    public override string Name => "della";
}
