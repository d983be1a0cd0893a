namespace DotnetMerge.Methods;

/// <summary><c>dare_ties</c>: DARE random drop (Yu et al.) with TIES sign election.</summary>
public sealed class DareTiesMerge() : GeneralizedTaskArithmetic(Sparsification.Random, signConsensus: true)
{
    public override string Name => "dare_ties";
}
