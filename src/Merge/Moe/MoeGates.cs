using System.Globalization;
using DotnetMerge.Engine;
using DotnetMerge.Kernels;
using DotnetMerge.Models;
using DotnetMerge.Numerics;

namespace DotnetMerge.Moe;

/// <summary>The router rows of every layer: <see cref="Rows"/>[layer] is [experts × hidden] row-major (the router
/// tensor), <see cref="SharedRows"/>[layer] the shared expert's gate row [hidden] (Qwen2-MoE), or null.</summary>
public sealed record MoeRouters(double[][] Rows, double[][]? SharedRows);

/// <summary>Computes router weights per gate mode (mergekit-moe's semantics, docs/moe.md):
/// <c>random</c> N(0, 1) and <c>uniform_random</c> U(−1/√hidden, 1/√hidden), drawn from the counter-based generator keyed by
/// (seed, layer, expert, element) so that a seed gives the same routers on any machine; <c>cheap_embed</c> the unit
/// vector of the sum of the base's input-embedding rows of every token of an expert's prompts (BOS before each prompt),
/// minus the same vector of its negative prompts, normalized again: the same rows in every layer; <c>hidden</c> and
/// <c>hidden_avg</c> the same with, per layer, the mean over the prompts of the base's hidden state entering the layer
/// (last token, or the prompt's mean) in place of the embedding sum (<see cref="LlamaForward"/>).</summary>
public static class MoeGates
{
    private static readonly uint RouterStream = Philox.Fnv1a32("moe.router");

    /// <summary>The routers for <paramref name="experts"/> (+ <paramref name="shared"/> when the architecture gates a shared expert).</summary>
    public static MoeRouters Compute(MoeGateMode mode, IReadOnlyList<MoeExpert> experts, MoeExpert? shared, int layers, int hidden, ulong seed,
        Func<IReadOnlyList<string>, double[]>? promptVector, Func<IReadOnlyList<string>, double[][]>? layerPromptVectors = null)
    {
        int n = experts.Count;
        var rows = new double[layers][];
        var sharedRows = shared is null ? null : new double[layers][];
        switch (mode)
        {
            case MoeGateMode.Random or MoeGateMode.UniformRandom:
                double scale = 1.0 / Math.Sqrt(hidden);
                for (int l = 0; l < layers; l++)
                {
                    rows[l] = new double[n * hidden];
                    for (int e = 0; e < n; e++) Draw(mode, seed, l, e, rows[l].AsSpan(e * hidden, hidden), scale);
                    if (sharedRows is not null)
                    {
                        sharedRows[l] = new double[hidden];
                        Draw(mode, seed, l, n, sharedRows[l], scale);
                    }
                }
                return new MoeRouters(rows, sharedRows);
            case MoeGateMode.CheapEmbed:
                ArgumentNullException.ThrowIfNull(promptVector);
                var matrix = new double[n * hidden];
                for (int e = 0; e < n; e++) ExpertRow(experts[e], promptVector).CopyTo(matrix, e * hidden);
                var sharedRow = shared is null ? null : ExpertRow(shared, promptVector);
                for (int l = 0; l < layers; l++)
                {
                    rows[l] = matrix;
                    if (sharedRows is not null) sharedRows[l] = sharedRow!;
                }
                return new MoeRouters(rows, sharedRows);
            case MoeGateMode.Hidden or MoeGateMode.HiddenAverage:
                ArgumentNullException.ThrowIfNull(layerPromptVectors);
                for (int l = 0; l < layers; l++) rows[l] = new double[n * hidden];
                for (int e = 0; e <= n; e++)
                {
                    var expert = e < n ? experts[e] : shared;
                    if (expert is null) continue;
                    var positive = layerPromptVectors(expert.PositivePrompts);
                    var negative = expert.NegativePrompts.Count > 0 ? layerPromptVectors(expert.NegativePrompts) : null;
                    for (int l = 0; l < layers; l++)
                    {
                        var row = e < n ? rows[l].AsSpan(e * hidden, hidden) : (sharedRows![l] = new double[hidden]);
                        for (int i = 0; i < hidden; i++) row[i] = positive[l][i] - (negative?[l][i] ?? 0);
                        Normalize(row);
                    }
                }
                return new MoeRouters(rows, sharedRows);
            default:
                throw new MergeException(MergeErrorKind.Definition, ErrorIds.MoeGateMode,
                    $"gate_mode {mode} is not supported yet; use one of {MoeConfigReader.SupportedGateModes}");
        }
    }

    private static double[] ExpertRow(MoeExpert expert, Func<IReadOnlyList<string>, double[]> promptVector)
    {
        var row = promptVector(expert.PositivePrompts);
        if (expert.NegativePrompts.Count > 0)
        {
            var negative = promptVector(expert.NegativePrompts);
            for (int i = 0; i < row.Length; i++) row[i] -= negative[i];
        }
        Normalize(row);
        return row;
    }

    /// <summary>Scales <paramref name="v"/> to unit L2 norm (a zero vector stays zero, as torch's clamp(min=1e-8) leaves it).</summary>
    public static void Normalize(Span<double> v)
    {
        double sum = 0;
        foreach (var x in v) sum += x * x;
        double norm = Math.Max(Math.Sqrt(sum), 1e-8);
        for (int i = 0; i < v.Length; i++) v[i] /= norm;
    }

    /// <summary>One expert's random row of one layer. Element i of the stream (layer, expert) is the i-th uniform of the
    /// counter (seed, layer, stream ^ expert); a normal value uses uniforms 2i and 2i+1 (Box-Muller).</summary>
    private static void Draw(MoeGateMode mode, ulong seed, int layer, int expert, Span<double> row, double scale)
    {
        uint key = RouterStream ^ (uint)expert * 0x9E3779B9u;
        for (int i = 0; i < row.Length; i++)
        {
            if (mode == MoeGateMode.UniformRandom)
            {
                double u = Philox.Uniform(seed, (uint)layer, key, i);
                row[i] = (2 * u - 1) * scale;
            }
            else
            {
                double u1 = 1.0 - Philox.Uniform(seed, (uint)layer, key, 2L * i), u2 = Philox.Uniform(seed, (uint)layer, key, 2L * i + 1);
                row[i] = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            }
        }
    }

    /// <summary>The normalized sum of the embedding rows of <paramref name="tokenIds"/> of every prompt, read row by row from the
    /// base's embedding tensor (only those rows are read, unless a LoRA adapter changes the tensor).</summary>
    internal static double[] EmbeddingVector(MoeTensor tensor, IEnumerable<int[]> tokenIds)
    {
        var embedding = tensor.Info;
        long rows = embedding.Shape[0];
        int hidden = checked((int)embedding.Shape[1]);
        long rowBytes = embedding.Dtype.ByteCount(hidden);
        var sum = new double[hidden];
        var bytes = new byte[rowBytes];
        var values = new float[hidden];
        var cache = new Dictionary<int, float[]>();
        foreach (var prompt in tokenIds)
        {
            foreach (int id in prompt)
            {
                if (id < 0 || id >= rows)
                    throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeTokenizer,
                        $"{tensor.Input.Model.Reference.Location}: base model '{tensor.Input.Model.Reference}': the tokenizer gave token id {id.ToString(CultureInfo.InvariantCulture)}, past the {rows.ToString(CultureInfo.InvariantCulture)} rows of '{embedding.Name}'");
                if (!cache.TryGetValue(id, out var row))
                {
                    tensor.ReadRange(id * rowBytes, bytes);
                    DtypeConversion.Decode(embedding.Dtype, bytes, 0, values);
                    row = (float[])values.Clone();
                    cache[id] = row;
                }
                for (int i = 0; i < hidden; i++) sum[i] += row[i];
            }
        }
        Normalize(sum);
        return sum;
    }

    /// <summary>The condition number σmax/σmin of an [experts × hidden] router matrix (from the eigenvalues of G·Gᵀ by
    /// the cyclic Jacobi of <see cref="Deltas.LowRank"/>); infinity when its rows are linearly dependent.</summary>
    public static double ConditionNumber(double[] matrix, int experts, int hidden)
    {
        if (experts < 2) return 1;
        var a = new double[experts, experts];
        for (int i = 0; i < experts; i++)
            for (int j = 0; j <= i; j++)
            {
                double dot = 0;
                for (int k = 0; k < hidden; k++) dot += matrix[i * hidden + k] * matrix[j * hidden + k];
                a[i, j] = a[j, i] = dot;
            }
        var (values, _) = Numerics.SymmetricEigen.Decompose(a);
        double max = double.MinValue, min = double.MaxValue;
        foreach (var value in values) { max = Math.Max(max, value); min = Math.Min(min, value); }
        return min <= max * 1e-24 ? double.PositiveInfinity : Math.Sqrt(max / min);
    }
}
