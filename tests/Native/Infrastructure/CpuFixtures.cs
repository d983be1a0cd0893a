using System.Runtime.InteropServices;
using DotnetMerge.Cuda.Backend;
using DotnetMerge.Cuda.Emission;
using DotnetMerge.Kernels;
using DotnetMerge.Numerics;

namespace DotnetMerge.Cuda.Tests.Infrastructure;

/// <summary>Tensor jobs as the CPU methods receive them (a <see cref="TensorMergeContext"/> over generated llama-like
/// tensors: a base, fine-tunes that differ from it by small deltas, some elements left unchanged), and a runner that
/// computes a <see cref="MergeKernelPlan"/> with its emitted kernels on the g++ shim the way <see cref="CudaBackend"/>
/// does on the GPU (the L1 norms over the whole tensor, then the map kernel piece by piece).</summary>
internal static class CpuFixtures
{
    /// <param name="Spread">How far the model's values stray from the base's (uniform ±Spread; 0: 0.002·(index + 1)).</param>
    public sealed record Model(Dtype Dtype, double Weight, double? Density = null, double? Gamma = null, double? TrimThreshold = null, double Spread = 0,
        double? Epsilon = null);

    public static TensorMergeContext Context(string outputName, long[] shape, IReadOnlyList<Model> models, int baseIndex, Dtype output,
        IDictionary<string, object> global, ulong seed, int randomSeed)
    {
        var random = new Random(randomSeed);
        long count = TensorShape.ElementCount(shape);
        var baseValues = new float[count];
        for (long i = 0; i < count; i++) baseValues[i] = (float)((random.NextDouble() * 2 - 1) * 0.05);
        var inputs = new List<MergeInput>();
        for (int m = 0; m < models.Count; m++)
        {
            var values = new float[count];
            double spread = models[m].Spread > 0 ? models[m].Spread : 0.002 * (m + 1);
            for (long i = 0; i < count; i++)
                values[i] = m == baseIndex || random.Next(50) == 0 ? baseValues[i] : baseValues[i] + (float)((random.NextDouble() * 2 - 1) * spread);
            var bytes = new byte[models[m].Dtype.ByteCount(count)];
            DtypeConversion.Encode(models[m].Dtype, values, bytes, 0);
            var parameters = new Dictionary<string, object> { ["weight"] = models[m].Weight };
            if (models[m].Density is double d) parameters["density"] = d;
            if (models[m].Gamma is double g) parameters["gamma"] = g;
            if (models[m].Epsilon is double e) parameters["epsilon"] = e;
            inputs.Add(new MergeInput($"model{m}", outputName, models[m].Dtype, shape, bytes, m == baseIndex, new ParameterBag(parameters))
            {
                MagnitudeThreshold = (float?)models[m].TrimThreshold,
            });
        }
        return new TensorMergeContext(outputName, inputs, baseIndex, new ParameterBag(global), shape, output,
            new byte[output.ByteCount(count)], seed, false, new ExecutionSettings(2));
    }

    /// <summary>A fresh context over the same inputs (the CPU and the shim each write their own output).</summary>
    public static TensorMergeContext WithNewOutput(TensorMergeContext c)
        => new(c.OutputName, c.Inputs, c.BaseIndex, c.Global, c.OutputShape, c.OutputDtype, new byte[c.Output.Length], c.Seed, c.IsEmbedding, c.Settings);

    /// <summary>Runs <paramref name="plan"/> on the shim over <paramref name="context"/>'s inputs, in pieces of
    /// <paramref name="piece"/> elements, and returns the output bytes.</summary>
    public static byte[] RunOnShim(MergeKernelPlan plan, TensorMergeContext context, long piece)
    {
        long count = context.OutputElementCount;
        int[] sizes = plan.InputDtypes.Select(KernelEmitter.ElementSize).ToArray();
        int outputSize = KernelEmitter.ElementSize(plan.OutputDtype);
        byte[][] inputs = context.Inputs.Select((x, i) => x.Data.Span[..checked((int)(count * sizes[i]))].ToArray()).ToArray();
        byte[]? hostRows = null;
        if (plan.HasHostRows)
        {
            if (plan.HostRowValues(context) is not { } rows)
            {
                TensorMergeContext cpu = WithNewOutput(context);
                MergeKernelPlan.RunOnCpu(cpu);
                return cpu.Output.ToArray();
            }
            hostRows = MemoryMarshal.AsBytes(rows.AsSpan()).ToArray();
        }
        var rowSlot = hostRows is null ? null : new[] { ("row_coefficients", hostRows) };
        MagnitudeMasks? masks = null;
        if (plan.Select is { } select)
        {
            SelectPassRunner run = (arguments, words) =>
            {
                plan.SetSelectArguments(arguments);
                return RunSelectPass(select, arguments, inputs, words, rowSlot);
            };
            masks = plan.MasksFrom(MagnitudeSelection.Select(select, count, plan.SelectQueriesFor(count, run), run));
        }
        else if (plan.IsMagnitude)
            masks = plan.MasksFrom([]);
        byte[]? flags = null;
        if (plan.DellaKeep is { } keep)
        {
            KernelArguments arguments = keep.CreateArguments();
            plan.SetDellaKeepArguments(arguments);
            flags = HostCompiler.RunKernel(keep, arguments, inputs, checked((int)plan.FlagBytes), grid: 3, block: 64, outputField: "flags");
        }
        var flagSlot = flags is null ? null : new[] { ("flags", flags) };
        double[]? scales = null;
        if (plan.Norms is { } norms)
        {
            KernelArguments norm = norms.CreateArguments();
            plan.SetNormArguments(norm, count, masks);
            long chunks = (count + plan.NormChunkElements - 1) / plan.NormChunkElements;
            byte[] partial = HostCompiler.RunKernel(norms, norm, inputs, checked((int)(chunks * plan.NormAccumulators * 8)), grid: 2,
                block: (uint)norms.BlockSize, outputField: "partial", extraInputs: flagSlot);
            scales = plan.ScalesFromNorms(MemoryMarshal.Cast<byte, double>(partial));
        }
        double[]? coefficients = null;
        if (plan.Gram is { } gram)
        {
            KernelArguments arguments = gram.CreateArguments();
            plan.SetGramArguments(arguments, count);
            long spans = (count + plan.GramSpan - 1) / plan.GramSpan;
            byte[] partial = HostCompiler.RunKernel(gram, arguments, inputs, checked((int)(spans * plan.GramPairs * 8)), grid: 2,
                block: (uint)gram.BlockSize, outputField: "partial");
            coefficients = plan.CoefficientsFromGram(MemoryMarshal.Cast<byte, double>(partial));
        }
        var output = new byte[count * outputSize];
        for (long start = 0; start < count; start += piece)
        {
            long length = Math.Min(piece, count - start);
            KernelArguments arguments = plan.Map.CreateArguments();
            plan.SetMapArguments(arguments, start, length, scales, masks, coefficients);
            byte[][] slices = inputs.Select((b, i) => b[(int)(start * sizes[i])..(int)((start + length) * sizes[i])]).ToArray();
            var extra = rowSlot ?? (plan.HasRowCoefficients ? new[] { ("row_coefficients", MemoryMarshal.AsBytes(coefficients.AsSpan()).ToArray()) } : flagSlot);
            byte[] result = HostCompiler.RunKernel(plan.Map, arguments, slices, checked((int)(length * outputSize)), grid: 3, block: 64, extraInputs: extra);
            result.CopyTo(output, (int)(start * outputSize));
        }
        return output;
    }

    /// <summary>Passes launched by <see cref="RunSelectPass"/> so far, by pass number (0 to 3): lets tests show that the
    /// tie passes ran.</summary>
    public static readonly int[] SelectPassesRun = new int[4];

    /// <summary>One select pass on the shim, as CudaBackend launches it: over the whole tensor, into a zeroed buffer, on
    /// several blocks of real threads (the histograms' atomicAdds race as on a GPU).</summary>
    public static ulong[] RunSelectPass(EmittedKernel select, KernelArguments arguments, byte[][] inputs, long words,
        IReadOnlyList<(string Field, byte[] Data)>? extraInputs = null)
    {
        uint pass = BitConverter.ToUInt32(arguments.Bytes.Slice(arguments.OffsetOf("pass"), 4));
        Interlocked.Increment(ref SelectPassesRun[pass]);
        byte[] result = HostCompiler.RunKernel(select, arguments, inputs, checked((int)(words * sizeof(ulong))), grid: pass == 3 ? 1u : 3u,
            block: 64, outputField: "result", extraInputs: extraInputs);
        return MemoryMarshal.Cast<byte, ulong>(result).ToArray();
    }

    /// <summary>"identical", or where and how two outputs first differ.</summary>
    public static string FirstDifference(byte[] expected, byte[] actual, Dtype dtype)
    {
        if (expected.Length != actual.Length) return $"lengths {expected.Length} and {actual.Length}";
        int size = (int)dtype.ByteCount(1);
        int differing = 0;
        string? first = null;
        for (int i = 0; i < expected.Length; i += size)
        {
            if (expected.AsSpan(i, size).SequenceEqual(actual.AsSpan(i, size))) continue;
            differing++;
            first ??= $"element {i / size}: cpu {Convert.ToHexString(expected, i, size)}, kernel {Convert.ToHexString(actual, i, size)}";
        }
        return first is null ? "identical" : $"{differing} element(s) differ; first at {first}";
    }
}
