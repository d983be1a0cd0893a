using DotnetMerge.Cuda.Emission;
using DotnetMerge.Kernels;
using DotnetMerge.Numerics;

namespace DotnetMerge.Cuda.Backend;

/// <summary>DELLA's MagPrune on the device, decided from the job's parameters as the CPU's DeltaPruner decides it: per
/// non-base input a mode (0: no pruner, density ≥ 1; 1: MagPrune; 2: density ≤ 0, nothing kept), and the keep kernel
/// (<see cref="KernelEmitter.EmitDellaKeep"/>) that writes one flag per input and element before the norms and the map.</summary>
internal sealed class DellaPlan
{
    private readonly double[] densities, epsilons;
    private readonly uint[] modes;

    private DellaPlan(EmittedKernel keep, long row, long count, double[] densities, double[] epsilons, uint[] modes, long normChunk)
    {
        Keep = keep;
        Row = row;
        Count = count;
        this.densities = densities;
        this.epsilons = epsilons;
        this.modes = modes;
        NormChunk = normChunk;
    }

    public EmittedKernel Keep { get; }

    /// <summary>Elements per row (TaskVectors.RowLength: the last dimension, or the whole of a 0-D / 1-D tensor).</summary>
    public long Row { get; }

    /// <summary>Elements of the tensor (the flags' stride).</summary>
    public long Count { get; }

    /// <summary>Elements per span of the L1 norms: the CPU's ChunkLoop.RowChunk(65536, row length).</summary>
    public long NormChunk { get; }

    /// <param name="densities">Per input: its density, 1 where nothing is pruned (base included).</param>
    public static DellaPlan? Create(IReadOnlyList<KernelInput> inputs, int baseIndex, int[] tasks, double[] densities, long[] outputShape,
        IReadOnlyList<Dtype> dtypes, out string reason)
    {
        long count = TensorShape.ElementCount(outputShape);
        long row = outputShape.Length >= 2 ? outputShape[^1] : Math.Max(1, count);
        var epsilons = new double[inputs.Count];
        var modes = new uint[inputs.Count];
        foreach (int t in tasks)
        {
            double density = densities[t];
            if (density >= 1) continue;
            if (density <= 0) modes[t] = 2;
            else
            {
                double epsilon = inputs[t].Parameters.GetDouble("epsilon");
                if (density + epsilon >= 1 || density - epsilon <= 0) { reason = "density ± epsilon outside (0, 1) (the CPU reports it)"; return null; }
                epsilons[t] = epsilon;
                modes[t] = 1;
            }
        }
        if (modes.Contains(1u) && row > KernelEmitter.DellaMaxRow)
        { reason = $"della rows longer than {KernelEmitter.DellaMaxRow} elements are ranked on the CPU"; return null; }
        // The CPU's L1 spans hold whole rows of any MagPrune model (GeneralizedTaskArithmetic.RowLength: the longest row
        // of a row-local pruner, whatever the models' order; a density ≤ 0 model has none).
        long normChunk = ChunkLoop.RowChunk(LaneSum.ChunkElements, modes.Contains(1u) ? row : 0);
        reason = "";
        return new DellaPlan(KernelEmitter.EmitDellaKeep(inputs.Count, baseIndex, dtypes), row, count, (double[])densities.Clone(), epsilons, modes, normChunk);
    }

    /// <summary>Fills the scalar arguments of <see cref="Keep"/> (the caller sets <c>in</c> and <c>flags</c>).</summary>
    public void SetKeepArguments(KernelArguments arguments, ulong seed, uint nameHash)
    {
        arguments.Set("count", (ulong)Count).Set("row", (ulong)Row).Set("seed", seed).Set("name_hash", nameHash);
        for (int i = 0; i < modes.Length; i++)
            arguments.Set("density", i, densities[i]).Set("epsilon", i, epsilons[i]).Set("mode", i, modes[i]);
    }

    /// <summary>Rows of the tensor: the keep kernel's blocks.</summary>
    public long Rows => Count / Row;

    /// <summary>Bytes of the flags buffer.</summary>
    public long FlagBytes => modes.Length * Count;
}
