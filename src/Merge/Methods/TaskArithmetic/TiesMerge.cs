namespace DotnetMerge.Methods;

/// <summary><c>ties</c>: TIES (Yadav et al.): magnitude trim, sign election, disjoint mean.</summary>
public sealed class TiesMerge() : GeneralizedTaskArithmetic(Sparsification.Magnitude, signConsensus: true)
{
    public override string Name => "ties";
}
