namespace DotnetMerge.Methods;

/// <summary><c>task_arithmetic</c>: Task arithmetic (Ilharco et al.): base + λ·Σ wᵢ·δᵢ.</summary>
public sealed class TaskArithmeticMerge() : GeneralizedTaskArithmetic(Sparsification.None, signConsensus: false)
{
    public override string Name => "task_arithmetic";
}
