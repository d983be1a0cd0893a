namespace DotnetMerge.Methods;

/// <summary><c>dare_linear</c>: DARE random drop (Yu et al.) mixed linearly.</summary>
public sealed class DareLinearMerge() : GeneralizedTaskArithmetic(Sparsification.Random, signConsensus: false)
{
    public override string Name => "dare_linear";
}
