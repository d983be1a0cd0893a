using System.Numerics;
using System.Runtime.CompilerServices;
using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary><c>linear</c> (model soups): <c>out = Σᵢ wᵢ·xᵢ</c>, divided by <c>Σᵢ wᵢ</c> when <c>normalize</c>.
/// The base model, if any, is just another weighted input. One fused map pass (<see cref="Operator"/>), vectorised in
/// double precision (each lane does exactly the scalar sequence of operations, so results are bit-identical to scalar
/// code).</summary>
public sealed class LinearMerge : IMergeMethod
{
    public string Name => "linear";

    public void Merge(TensorMergeContext ctx)
    {
        TaskVectors.RequireSameLength(ctx, Name);
        var weights = ctx.Inputs.Select(i => i.Parameters.GetDouble("weight")).ToArray();
        bool normalize = ctx.Global.GetBool("normalize");
        double sum = weights.Sum();
        if (normalize && sum == 0)
            throw new InvalidOperationException(
                $"linear: the weights of tensor '{ctx.OutputName}' sum to zero; set normalize: false to add and subtract models");
        double divisor = normalize ? sum : 1;
        bool odd = OutputRounding.NeedsRoundToOdd(ctx.OutputDtype);
        var op = new Operator(weights, divisor, odd);
        if (Bf16Lanes.Applies(ctx, ctx.Inputs)) Bf16Lanes.Map(ctx, ctx.Inputs, op);
        else ChunkLoop.Map(ctx, ctx.Inputs, op);
    }

    /// <summary>The element math of <c>linear</c>, written once: <c>narrow(Σᵢ wᵢ·xᵢ / divisor)</c>, models in order from
    /// +0.0, in double, rounded once. Run on raw bf16 words (<see cref="Bf16Lanes.Map"/>) or float32 chunks
    /// (<see cref="ChunkLoop.Map{TKernel}"/>); the lanes repeat the scalar operations, so both give the same bits.</summary>
    private readonly struct Operator(double[] weights, double divisor, bool odd) : IElementwiseKernel
    {
        private readonly bool _exactReciprocal = IsPowerOfTwo(divisor);
        private readonly double _reciprocal = 1 / divisor;

        // Inlined into the bf16 loop: as a call per 16 elements it spilled the loop's registers (Bf16Lanes.Run).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector<float> Lanes(ReadOnlySpan<Vector<float>> inputs)
        {
            Vector<double> low = Vector<double>.Zero, high = Vector<double>.Zero;
            for (int i = 0; i < weights.Length; i++)
            {
                Vector.Widen(inputs[i], out var xl, out var xh);
                var w = new Vector<double>(weights[i]);
                low += w * xl;
                high += w * xh;
            }
            if (_exactReciprocal)
            {
                var r = new Vector<double>(_reciprocal);
                return OutputRounding.Narrow(low * r, high * r, odd);
            }
            var d = new Vector<double>(divisor);
            return OutputRounding.Narrow(low / d, high / d, odd);
        }

        public float Scalar(ReadOnlySpan<float> inputs)
        {
            double acc = 0;
            for (int i = 0; i < weights.Length; i++) acc += weights[i] * inputs[i];
            return OutputRounding.Narrow(acc / divisor, odd);
        }
    }

    /// <summary>True for ±2^k in the normal range, whose reciprocal is exact (so x / d == x · (1/d) for every x).</summary>
    internal static bool IsPowerOfTwo(double d)
    {
        if (!double.IsNormal(d) || !double.IsNormal(1 / d)) return false;
        return (BitConverter.DoubleToUInt64Bits(d) & 0x000F_FFFF_FFFF_FFFFul) == 0;
    }
}
