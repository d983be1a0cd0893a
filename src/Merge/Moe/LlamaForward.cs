using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using DotnetMerge.Engine;
using DotnetMerge.Models;
using DotnetMerge.Numerics;

namespace DotnetMerge.Moe;

/// <summary>A CPU forward pass of a llama-family decoder (llama, mistral, qwen2, qwen3) over a few short prompts, for the
/// <c>hidden</c> gate modes: the hidden state entering every layer. RMSNorm, rotary position embeddings with the
/// config's scaling (none, <c>linear</c>, <c>llama3</c>), grouped-query causal attention (q/k/v biases when the model has
/// them; qwen3's per-head q_norm/k_norm before the rotation), SwiGLU MLP. The weights are read as a merge reads them:
/// with the model's LoRA adapter applied. Layer by layer: one layer's weights are in memory at a time, every prompt goes through it, and the
/// next layer's weights replace them. Float32 weights and activations with SIMD dot products (TensorPrimitives), as
/// transformers runs a float32 model.</summary>
public sealed class LlamaForward
{
    private readonly ModelSource _model;
    private readonly int _hidden, _heads, _kvHeads, _headDim;
    private readonly double _eps;
    private readonly double[] _inverseFrequencies;

    private LlamaForward(ModelSource model, int hidden, int heads, int kvHeads, int headDim, double eps, double[] inverseFrequencies)
    {
        _model = model; _hidden = hidden; _heads = heads; _kvHeads = kvHeads; _headDim = headDim; _eps = eps; _inverseFrequencies = inverseFrequencies;
    }

    /// <summary>Reads the sizes and the rotary setup from the model's config.json.</summary>
    public static LlamaForward Create(ModelSource model)
    {
        string where = $"{model.Reference.Location}: base model '{model.Reference}'";
        var config = model.Config ?? throw Unsupported(where, "has no config.json");
        long Required(string key) => model.ConfigInt(key) ?? throw Unsupported(where, $"config.json has no {key}");
        int hidden = checked((int)Required("hidden_size"));
        int heads = checked((int)Required("num_attention_heads"));
        int kvHeads = checked((int)(model.ConfigInt("num_key_value_heads") ?? heads));
        int headDim = checked((int)(model.ConfigInt("head_dim") ?? hidden / heads));
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0 || headDim <= 0 || headDim % 2 != 0)
            throw Unsupported(where, $"has {heads} attention heads, {kvHeads} key/value heads and head size {headDim}, which do not make grouped-query attention");
        var act = model.ConfigString("hidden_act") ?? "silu";
        if (act is not ("silu" or "swish"))
            throw Unsupported(where, $"uses hidden_act '{act}'; the forward pass for the hidden gate modes computes SwiGLU (silu)");
        double eps = Number(config, "rms_norm_eps") ?? 1e-6;
        double theta = Number(config, "rope_theta") ?? 10000;
        var inverse = new double[headDim / 2];
        for (int i = 0; i < inverse.Length; i++) inverse[i] = 1.0 / Math.Pow(theta, 2.0 * i / headDim);
        if (config["rope_scaling"] is JsonObject scaling) Scale(inverse, scaling, where);
        return new LlamaForward(model, hidden, heads, kvHeads, headDim, eps, inverse);
    }

    private static void Scale(double[] inverse, JsonObject scaling, string where)
    {
        var type = (scaling["rope_type"] ?? scaling["type"])?.GetValue<string>() ?? "default";
        double factor = Number(scaling, "factor") ?? 1;
        switch (type)
        {
            case "default":
                return;
            case "linear":
                for (int i = 0; i < inverse.Length; i++) inverse[i] /= factor;
                return;
            case "llama3":
                double low = Number(scaling, "low_freq_factor") ?? 1, high = Number(scaling, "high_freq_factor") ?? 4;
                double original = Number(scaling, "original_max_position_embeddings") ?? 8192;
                double lowWavelength = original / low, highWavelength = original / high;
                for (int i = 0; i < inverse.Length; i++)
                {
                    double wavelength = 2 * Math.PI / inverse[i];
                    if (wavelength < highWavelength) continue;
                    if (wavelength > lowWavelength) { inverse[i] /= factor; continue; }
                    double smooth = (original / wavelength - low) / (high - low);
                    inverse[i] = (1 - smooth) * inverse[i] / factor + smooth * inverse[i];
                }
                return;
            default:
                throw Unsupported(where, $"has rope_scaling type '{type}'; the forward pass for the hidden gate modes supports none, linear and llama3");
        }
    }

    /// <summary>For each prompt and each layer (given by its prefix, <c>model.layers.N.</c>), the hidden state entering
    /// that layer: at the last token (<paramref name="lastToken"/>) or averaged over the prompt's tokens.</summary>
    public double[][][] LayerInputs(IReadOnlyList<string> layerPrefixes, IReadOnlyList<int[]> prompts, bool lastToken, CancellationToken ct = default)
    {
        const string embedName = "model.embed_tokens.weight";
        if (MoeTensor.Find(_model, embedName) is not { Info: { Shape: [_, var width] } embed } embedTensor || width != _hidden)
            throw Unsupported($"{_model.Reference.Location}: base model '{_model.Reference}'", $"has no '{embedName}' of {_hidden} columns");
        long rowBytes = embed.Dtype.ByteCount(_hidden);
        var rowData = new byte[rowBytes];
        var states = new float[prompts.Count][];
        for (int p = 0; p < prompts.Count; p++)
        {
            var ids = prompts[p];
            states[p] = new float[ids.Length * _hidden];
            for (int t = 0; t < ids.Length; t++)
            {
                if (ids[t] < 0 || ids[t] >= embed.Shape[0])
                    throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeTokenizer, $"token id {ids[t]} is past the {embed.Shape[0]} embedding rows of '{_model.Reference}'");
                embedTensor.ReadRange(ids[t] * rowBytes, rowData); // only the prompts' rows are read (of a stored tensor)
                DtypeConversion.Decode(embed.Dtype, rowData, 0, states[p].AsSpan(t * _hidden, _hidden));
            }
        }
        var result = new double[prompts.Count][][];
        for (int p = 0; p < prompts.Count; p++) result[p] = new double[layerPrefixes.Count][];
        for (int l = 0; l < layerPrefixes.Count; l++)
        {
            ct.ThrowIfCancellationRequested();
            for (int p = 0; p < prompts.Count; p++) result[p][l] = Summary(states[p], prompts[p].Length, lastToken);
            if (l == layerPrefixes.Count - 1) break; // the last layer's output is no layer's input
            var layer = new Layer(this, layerPrefixes[l]);
            for (int p = 0; p < prompts.Count; p++) layer.Apply(states[p], prompts[p].Length);
        }
        return result;
    }

    private double[] Summary(float[] state, int tokens, bool lastToken)
    {
        var v = new double[_hidden];
        int from = lastToken ? tokens - 1 : 0;
        for (int t = from; t < tokens; t++)
            for (int i = 0; i < _hidden; i++) v[i] += state[t * _hidden + i];
        for (int i = 0; i < _hidden; i++) v[i] /= tokens - from;
        return v;
    }

    /// <summary>One decoder layer's weights (float32) and its forward step.</summary>
    private sealed class Layer
    {
        private readonly LlamaForward _f;
        private readonly float[] _inNorm, _postNorm, _q, _k, _v, _o, _gate, _up, _down;
        private readonly float[]? _qb, _kb, _vb, _qNorm, _kNorm;

        public Layer(LlamaForward f, string prefix)
        {
            _f = f;
            int h = f._hidden, qDim = f._heads * f._headDim, kvDim = f._kvHeads * f._headDim;
            _inNorm = f.Load(prefix + "input_layernorm.weight", [h]);
            _postNorm = f.Load(prefix + "post_attention_layernorm.weight", [h]);
            _q = f.Load(prefix + "self_attn.q_proj.weight", [qDim, h]);
            _k = f.Load(prefix + "self_attn.k_proj.weight", [kvDim, h]);
            _v = f.Load(prefix + "self_attn.v_proj.weight", [kvDim, h]);
            _o = f.Load(prefix + "self_attn.o_proj.weight", [h, qDim]);
            _qb = f.TryLoad(prefix + "self_attn.q_proj.bias", [qDim]);
            _kb = f.TryLoad(prefix + "self_attn.k_proj.bias", [kvDim]);
            _vb = f.TryLoad(prefix + "self_attn.v_proj.bias", [kvDim]);
            // qwen3: an RMSNorm over each head of the queries and keys, before the rotation.
            _qNorm = f.TryLoad(prefix + "self_attn.q_norm.weight", [f._headDim]);
            _kNorm = f.TryLoad(prefix + "self_attn.k_norm.weight", [f._headDim]);
            _gate = f.Load(prefix + "mlp.gate_proj.weight", out var gateShape);
            long inter = gateShape[0];
            f.Check(prefix + "mlp.gate_proj.weight", gateShape, [inter, h]);
            _up = f.Load(prefix + "mlp.up_proj.weight", [inter, h]);
            _down = f.Load(prefix + "mlp.down_proj.weight", [h, inter]);
        }

        public void Apply(float[] x, int tokens)
        {
            int h = _f._hidden, hd = _f._headDim, heads = _f._heads, kvHeads = _f._kvHeads, group = heads / kvHeads;
            int qDim = heads * hd, kvDim = kvHeads * hd;
            var normed = new float[tokens * h];
            RmsNorm(x, _inNorm, normed, tokens);
            var q = MatMul(normed, tokens, h, _q, qDim, _qb);
            var k = MatMul(normed, tokens, h, _k, kvDim, _kb);
            var v = MatMul(normed, tokens, h, _v, kvDim, _vb);
            for (int t = 0; t < tokens; t++)
            {
                for (int head = 0; head < heads; head++)
                {
                    var qh = q.AsSpan(t * qDim + head * hd, hd);
                    if (_qNorm is not null) RmsNorm(qh, _qNorm, qh);
                    Rotate(qh, t);
                }
                for (int head = 0; head < kvHeads; head++)
                {
                    var kh = k.AsSpan(t * kvDim + head * hd, hd);
                    if (_kNorm is not null) RmsNorm(kh, _kNorm, kh);
                    Rotate(kh, t);
                }
            }
            var attention = new float[tokens * qDim];
            var scores = new double[tokens];
            double scale = 1 / Math.Sqrt(hd);
            for (int head = 0; head < heads; head++)
            {
                int kv = head / group;
                for (int t = 0; t < tokens; t++)
                {
                    var qt = q.AsSpan(t * qDim + head * hd, hd);
                    double max = double.NegativeInfinity;
                    for (int u = 0; u <= t; u++)
                    {
                        scores[u] = TensorPrimitives.Dot(qt, k.AsSpan(u * kvDim + kv * hd, hd)) * scale;
                        max = Math.Max(max, scores[u]);
                    }
                    double sum = 0;
                    for (int u = 0; u <= t; u++) sum += scores[u] = Math.Exp(scores[u] - max);
                    var outT = attention.AsSpan(t * qDim + head * hd, hd);
                    for (int u = 0; u <= t; u++)
                    {
                        var vu = v.AsSpan(u * kvDim + kv * hd, hd);
                        float w = (float)(scores[u] / sum);
                        for (int i = 0; i < hd; i++) outT[i] += w * vu[i];
                    }
                }
            }
            var o = MatMul(attention, tokens, qDim, _o, h, null);
            TensorPrimitives.Add(x, o, x);
            RmsNorm(x, _postNorm, normed, tokens);
            int inter = _gate.Length / h;
            var g = MatMul(normed, tokens, h, _gate, inter, null);
            var up = MatMul(normed, tokens, h, _up, inter, null);
            for (int i = 0; i < g.Length; i++) g[i] = g[i] / (1 + MathF.Exp(-g[i])) * up[i];
            var down = MatMul(g, tokens, inter, _down, h, null);
            TensorPrimitives.Add(x, down, x);
        }

        private void RmsNorm(float[] x, float[] weight, float[] destination, int tokens)
        {
            int h = _f._hidden;
            for (int t = 0; t < tokens; t++) RmsNorm(x.AsSpan(t * h, h), weight, destination.AsSpan(t * h, h));
        }

        /// <summary>destination = row / rms(row) · weight (the row may be the destination).</summary>
        private void RmsNorm(ReadOnlySpan<float> row, float[] weight, Span<float> destination)
        {
            double squares = 0;
            foreach (var value in row) squares += (double)value * value;
            float inverse = (float)(1 / Math.Sqrt(squares / row.Length + _f._eps));
            for (int i = 0; i < row.Length; i++) destination[i] = row[i] * inverse * weight[i];
        }

        /// <summary>transformers' rotate_half convention: the first and second halves of a head are the pairs.</summary>
        private void Rotate(Span<float> head, int position)
        {
            int half = head.Length / 2;
            for (int i = 0; i < half; i++)
            {
                double angle = position * _f._inverseFrequencies[i];
                double c = Math.Cos(angle), s = Math.Sin(angle);
                float a = head[i], b = head[i + half];
                head[i] = (float)(a * c - b * s);
                head[i + half] = (float)(b * c + a * s);
            }
        }

        /// <summary>[tokens × input] times the transpose of a [output × input] weight (+ bias), rows in parallel.</summary>
        private static float[] MatMul(float[] x, int tokens, int input, float[] weight, int output, float[]? bias)
        {
            var y = new float[tokens * output];
            Parallel.For(0, output, r =>
            {
                var w = weight.AsSpan(r * input, input);
                for (int t = 0; t < tokens; t++)
                    y[t * output + r] = TensorPrimitives.Dot(x.AsSpan(t * input, input), w) + (bias?[r] ?? 0);
            });
            return y;
        }
    }

    private float[] Load(string name, long[] shape)
    {
        var values = Load(name, out var actual);
        Check(name, actual, shape);
        return values;
    }

    private float[]? TryLoad(string name, long[] shape) => _model.TryGetTensor(name, out _, out _) ? Load(name, shape) : null;

    private void Check(string name, long[] actual, long[] expected)
    {
        if (!actual.SequenceEqual(expected))
            throw Unsupported($"{_model.Reference.Location}: base model '{_model.Reference}'",
                $"has '{name}' of shape [{string.Join(", ", actual)}] where its config.json makes [{string.Join(", ", expected)}]");
    }

    private float[] Load(string name, out long[] shape)
    {
        if (MoeTensor.Find(_model, name) is not { } tensor)
            throw new MergeException(MergeErrorKind.Input, ErrorIds.TensorMissing, $"{_model.Reference.Location}: base model '{_model.Reference}' has no '{name}', which the forward pass needs");
        var info = tensor.Info;
        if (!info.Dtype.CanDecode() || info.ElementCount > Array.MaxLength || info.ByteLength > Array.MaxLength)
            throw new MergeException(MergeErrorKind.Input, ErrorIds.UnsupportedTensor, $"'{name}' of '{_model.Reference}' ({info.Dtype.HeaderName()}, {info.ElementCount} elements) cannot be read for the forward pass");
        var bytes = tensor.ReadAll(); // with the model's LoRA adapter applied, as the merge reads it
        var values = new float[info.ElementCount];
        DtypeConversion.Decode(info.Dtype, bytes, 0, values);
        shape = info.Shape;
        return values;
    }

    private static double? Number(JsonObject o, string key)
        => o[key] is JsonValue v && (v.TryGetValue<double>(out var d) || (v.TryGetValue<long>(out var l) && (d = l) == l)) ? d : null;

    private static MergeException Unsupported(string where, string what)
        => new(MergeErrorKind.Input, ErrorIds.MoeModelMismatch, where + " " + what);
}
