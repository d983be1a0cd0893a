namespace DotnetMerge.Methods;

/// <summary><c>della_linear</c>: DELLA MagPrune (rank-weighted random drop) mixed linearly.</summary>
public sealed class DellaLinearMerge() : GeneralizedTaskArithmetic(Sparsification.DellaMagprune, signConsensus: false)
{
    public override string Name => "della_linear";
}
