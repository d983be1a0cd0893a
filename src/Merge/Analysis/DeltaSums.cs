namespace DotnetMerge.Analysis;

/// <summary>The float64 sums behind every figure of <c>analyze</c>, over a set of elements (a chunk, a tensor, a layer,
/// a group, the model) for K task vectors δᵢ = xᵢ − base. Sums add, so a layer's figures are its tensors' sums combined,
/// never an average of ratios. Chunks are combined in index order, so the result does not depend on the thread count.</summary>
public sealed class DeltaSums
{
    public DeltaSums(int tasks)
    {
        Tasks = tasks;
        DeltaSquares = new double[tasks];
        KeptSquares = new double[tasks];
        MethodDots = new double[tasks];
        MergedDots = new double[tasks];
        Dots = new double[tasks, tasks];
        BothChanged = new long[tasks, tasks];
        Conflicts = new long[tasks, tasks];
    }

    public int Tasks { get; }
    public long Elements { get; set; }
    /// <summary>Σ base².</summary>
    public double BaseSquares { get; set; }
    /// <summary>Σ δᵢ² per task.</summary>
    public double[] DeltaSquares { get; }
    /// <summary>Σ δᵢ² over the elements the method's sparsification keeps (= <see cref="DeltaSquares"/> without one).</summary>
    public double[] KeptSquares { get; }
    /// <summary>Σ m·δᵢ, m = the method's merged output − base (computed in memory, as a run computes it).</summary>
    public double[] MethodDots { get; }
    /// <summary>Σ m·δᵢ, m = a merged model's tensor (<c>--merged</c>) − base.</summary>
    public double[] MergedDots { get; }
    /// <summary>Σ δᵢ·δⱼ (upper triangle used).</summary>
    public double[,] Dots { get; }
    /// <summary>Elements where δᵢ ≠ 0 and δⱼ ≠ 0.</summary>
    public long[,] BothChanged { get; }
    /// <summary>Elements where δᵢ and δⱼ are both nonzero and of opposite sign.</summary>
    public long[,] Conflicts { get; }

    public void Add(DeltaSums other)
    {
        if (other.Tasks != Tasks) throw new ArgumentException($"sums of {other.Tasks} task vectors cannot be added to sums of {Tasks}");
        Elements += other.Elements;
        BaseSquares += other.BaseSquares;
        for (int i = 0; i < Tasks; i++)
        {
            DeltaSquares[i] += other.DeltaSquares[i];
            KeptSquares[i] += other.KeptSquares[i];
            MethodDots[i] += other.MethodDots[i];
            MergedDots[i] += other.MergedDots[i];
            for (int j = 0; j < Tasks; j++)
            {
                Dots[i, j] += other.Dots[i, j];
                BothChanged[i, j] += other.BothChanged[i, j];
                Conflicts[i, j] += other.Conflicts[i, j];
            }
        }
    }

    /// <summary>‖δᵢ‖ / ‖base‖ (NaN when the base is all zeros).</summary>
    public double RelativeNorm(int task) => BaseSquares > 0 ? Math.Sqrt(DeltaSquares[task] / BaseSquares) : double.NaN;

    /// <summary>δᵢ·δⱼ / (‖δᵢ‖‖δⱼ‖); NaN when either task vector is zero here.</summary>
    public double Cosine(int i, int j)
        => i == j ? (DeltaSquares[i] > 0 ? 1 : double.NaN)
            : DeltaSquares[i] > 0 && DeltaSquares[j] > 0 ? Dots[Math.Min(i, j), Math.Max(i, j)] / Math.Sqrt(DeltaSquares[i] * DeltaSquares[j]) : double.NaN;

    /// <summary>Opposite signs among the elements both task vectors change; NaN when they change no element in common.</summary>
    public double SignConflictRate(int i, int j)
    {
        if (i == j) return 0;
        var (a, b) = (Math.Min(i, j), Math.Max(i, j));
        return BothChanged[a, b] > 0 ? (double)Conflicts[a, b] / BothChanged[a, b] : double.NaN;
    }

    /// <summary>Share of ‖δᵢ‖² the sparsification keeps (1 without one; NaN for a zero task vector).</summary>
    public double KeptFraction(int task) => DeltaSquares[task] > 0 ? KeptSquares[task] / DeltaSquares[task] : double.NaN;

    /// <summary>How much of δᵢ the method's merged delta carries: m·δᵢ / ‖δᵢ‖² (the coefficient of δᵢ in m's projection).</summary>
    public double MethodRetained(int task) => DeltaSquares[task] > 0 ? MethodDots[task] / DeltaSquares[task] : double.NaN;

    /// <summary>The same for a merged model given with <c>--merged</c>.</summary>
    public double MergedRetained(int task) => DeltaSquares[task] > 0 ? MergedDots[task] / DeltaSquares[task] : double.NaN;
}
