using System.Globalization;
using System.Text;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Execution;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;
using DotnetMerge.Output;
using DotnetMerge.Planning;
using DotnetMerge.Safetensors;
using DotnetMerge.Soups;

namespace DotnetMerge.Deltas;

/// <summary>Options of <see cref="TaskVector.ExtractAsync"/>.</summary>
public sealed record ExtractOptions
{
    /// <summary>Storage dtype of the deltas: F32 (default, exact for bf16/f16 models), BF16 or F16 (half the size, but
    /// a delta is small next to the weights, so its bf16 rounding is relatively coarse).</summary>
    public Dtype Dtype { get; init; } = Dtype.F32;

    /// <summary>Store each 2-D delta as two rank-r factors (when that is smaller than the delta itself).</summary>
    public int? Rank { get; init; }

    /// <summary>Shard size, --force, --allow-crimes, working directory.</summary>
    public MergeOptions Merge { get; init; } = new();
}

/// <summary>Options of <see cref="TaskVector.ApplyAsync"/>.</summary>
public sealed record ApplyOptions
{
    /// <summary>Apply task vectors whose recorded base fingerprint differs from the base given.</summary>
    public bool ForceBase { get; init; }

    /// <summary>Shard size, --force, dtype override, working directory.</summary>
    public MergeOptions Merge { get; init; } = new();
}

/// <summary>Relative Frobenius error ‖δ − stored‖ / ‖δ‖ of one stored delta (rank 0: stored whole).</summary>
public sealed record TensorError(string Name, int Rank, double RelativeError);

public sealed record ExtractResult(string OutputDirectory, int TensorCount, int FactoredCount, IReadOnlyList<string> Skipped,
    string BaseFingerprint, IReadOnlyList<TensorError> Errors, double? OverallRelativeError);

public sealed record ApplyResult(string OutputDirectory, int TensorCount, int ChangedTensors, string BaseFingerprint, IReadOnlyList<string> Warnings);

/// <summary>Task vectors as artifacts (Ilharco et al., 2023): extract τ = fine-tune − base into a safetensors "delta
/// model" that records its base's fingerprint, and apply Σ λᵢ·τᵢ onto a base. Both stream tensor by tensor.</summary>
public static class TaskVector
{
    public static async Task<ExtractResult> ExtractAsync(string baseModel, string fineTune, string outputDirectory, ExtractOptions options,
        IMergeProgress? progress = null, CancellationToken cancellationToken = default)
    {
        progress ??= NullProgress.Instance;
        if (options.Dtype is not (Dtype.F32 or Dtype.BF16 or Dtype.F16))
            throw new ArgumentException($"a task vector is stored as float32, bfloat16 or float16, not {options.Dtype.HeaderName()}");
        if (options.Rank is < 1) throw new ArgumentException("--rank must be at least 1");
        var paths = LinearDefinition.FullPaths([baseModel, fineTune], options.Merge.WorkingDirectory);
        OutputTransaction.CheckLocation(outputDirectory, options.Merge.Force, paths);
        progress.Stage("checking the base and the fine-tune");
        var definition = LinearDefinition.Create(paths, [1.0, 1.0], "task vector extraction: base and fine-tune (compatibility check)");
        using var plan = LinearDefinition.PlanSameShapes(definition, options.Merge with { Dtype = null, OutDtype = null });
        foreach (var w in plan.Warnings) progress.Warning(w);
        var baseSource = plan.Models.First(m => m.Reference.Equals(ModelReference.Parse(paths[0])));
        var fineTuneSource = plan.Models.First(m => m.Reference.Equals(ModelReference.Parse(paths[1])));

        var skipped = new List<string>();
        var layout = new List<(TensorJob Job, int Rank)>();
        var outputs = new List<OutputTensor>();
        foreach (var job in plan.Jobs)
        {
            if (job.Kind == JobKind.Copy) { skipped.Add(job.OutputName); continue; }
            var shape = job.OutputShape;
            int rank = options.Rank is { } r && shape.Length == 2 && (long)r * (shape[0] + shape[1]) < shape[0] * shape[1] ? r : 0;
            layout.Add((job, rank));
            if (rank == 0) outputs.Add(new OutputTensor(job.OutputName, options.Dtype, shape));
            else
            {
                outputs.Add(new OutputTensor(job.OutputName + TaskVectorInfo.FactorA, options.Dtype, [rank, shape[1]]));
                outputs.Add(new OutputTensor(job.OutputName + TaskVectorInfo.FactorB, options.Dtype, [shape[0], rank]));
            }
        }
        var metadata = new Dictionary<string, string>
        {
            [TaskVectorInfo.KindKey] = TaskVectorInfo.KindValue,
            [TaskVectorInfo.BaseKey] = paths[0],
            [TaskVectorInfo.BaseFingerprintKey] = TaskVectorInfo.FingerprintPlaceholder,
            [TaskVectorInfo.BaseStructureKey] = ModelFingerprint.Structure(baseSource.Checkpoint),
            [TaskVectorInfo.FineTuneKey] = paths[1],
            [TaskVectorInfo.DtypeKey] = options.Dtype.TorchName(),
        };
        if (options.Rank is { } rk) metadata[TaskVectorInfo.RankKey] = rk.ToString(CultureInfo.InvariantCulture);

        using var transaction = OutputTransaction.Begin(outputDirectory, options.Merge.Force, paths);
        var fingerprint = new ModelFingerprint();
        var errors = new List<TensorError>();
        double errorSquares = 0, normSquares = 0;
        progress.Stage($"extracting {layout.Count} task-vector tensors");
        progress.Started(outputs.Count, plan.BytesToRead, outputs.Sum(o => o.ByteLength));
        IReadOnlyList<ShardPlan> shards;
        await using (var writer = new ShardedModelWriter(transaction.StagingDirectory, outputs, options.Merge.MaxShardBytes, metadata))
        {
            var scratch = Array.Empty<byte>();
            foreach (var (job, rank) in layout)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var b = TensorStreaming.Of(job.Inputs[0], cancellationToken);
                var f = TensorStreaming.Of(job.Inputs[1], cancellationToken);
                var hash = fingerprint.Begin(b.Tensor.Name);
                double err, norm;
                long written;
                if (rank == 0)
                {
                    var bytes = TensorStreaming.Allocate(job.OutputName, options.Dtype, b.ElementCount);
                    (err, norm) = WholeDelta(b, f, options.Dtype, bytes, hash, measure: options.Rank is not null, ref scratch);
                    await writer.WriteTensorAsync(job.OutputName, bytes, cancellationToken).ConfigureAwait(false);
                    written = bytes.Length;
                }
                else
                {
                    int m = (int)job.OutputShape[0], n = (int)job.OutputShape[1];
                    var delta = ReadDelta(b, f, hash, ref scratch);
                    var (bFactor, aFactor, _) = LowRank.Factorize(delta, m, n, rank, Fnv1a(job.OutputName));
                    var aBytes = EncodeFactor(aFactor, options.Dtype, out var aStored);
                    var bBytes = EncodeFactor(bFactor, options.Dtype, out var bStored);
                    await writer.WriteTensorAsync(job.OutputName + TaskVectorInfo.FactorA, aBytes, cancellationToken).ConfigureAwait(false);
                    await writer.WriteTensorAsync(job.OutputName + TaskVectorInfo.FactorB, bBytes, cancellationToken).ConfigureAwait(false);
                    (err, norm) = ReconstructionError(delta, m, n, bStored, aStored, rank);
                    written = aBytes.Length + bBytes.Length;
                }
                fingerprint.End(b.Tensor.Name);
                if (options.Rank is not null)
                {
                    errors.Add(new TensorError(job.OutputName, rank, norm == 0 ? Math.Sqrt(err) : Math.Sqrt(err / norm)));
                    errorSquares += err;
                    normSquares += norm;
                }
                progress.TensorWritten(job.OutputName, b.Tensor.ByteLength + f.Tensor.ByteLength, written);
            }
            await writer.CompleteAsync(cancellationToken).ConfigureAwait(false);
            shards = writer.Shards;
        }
        progress.Stage("fingerprinting the base");
        var baseFingerprint = fingerprint.Complete(baseSource.Checkpoint, cancellationToken);
        foreach (var shard in shards) TaskVectorInfo.PatchFingerprint(Path.Combine(transaction.StagingDirectory, shard.FileName), baseFingerprint);
        var config = Path.Combine(fineTuneSource.Directory, "config.json");
        if (File.Exists(config)) File.Copy(config, Path.Combine(transaction.StagingDirectory, "config.json"));
        double? overall = options.Rank is null ? null : normSquares == 0 ? Math.Sqrt(errorSquares) : Math.Sqrt(errorSquares / normSquares);
        int factored = layout.Count(l => l.Rank > 0);
        if (options.Merge.WriteModelCard)
            File.WriteAllText(Path.Combine(transaction.StagingDirectory, "README.md"),
                ExtractCard(Path.GetFileName(transaction.OutputDirectory), paths, baseFingerprint, options, layout.Count, factored, skipped, overall));
        transaction.Commit();
        return new ExtractResult(transaction.OutputDirectory, layout.Count, factored, skipped, baseFingerprint, errors, overall);
    }

    public static async Task<ApplyResult> ApplyAsync(string baseModel, IReadOnlyList<ScaledTaskVector> vectors, string outputDirectory, ApplyOptions options,
        IMergeProgress? progress = null, CancellationToken cancellationToken = default)
    {
        progress ??= NullProgress.Instance;
        if (vectors.Count == 0) throw new ArgumentException("give at least one task vector to apply");
        var basePath = LinearDefinition.FullPaths([baseModel], options.Merge.WorkingDirectory)[0];
        var vectorPaths = vectors.Select(v => Path.TrimEndingDirectorySeparator(Path.GetFullPath(v.Path, options.Merge.WorkingDirectory ?? Environment.CurrentDirectory))).ToList();
        OutputTransaction.CheckLocation(outputDirectory, options.Merge.Force, vectorPaths.Prepend(basePath));
        progress.Stage("checking the base and the task vectors");
        var definition = LinearDefinition.Create([basePath], [1.0], "task vector application: the base model's tensors");
        using var plan = MergeRunner.Plan(definition, options.Merge);
        var baseSource = plan.Models[0];
        var structure = ModelFingerprint.Structure(baseSource.Checkpoint);
        var warnings = new List<string>();
        var opened = new List<(ModelCheckpoint Checkpoint, TaskVectorInfo Info, double Lambda)>();
        try
        {
            for (int v = 0; v < vectors.Count; v++)
            {
                var checkpoint = TaskVectorInfo.Open(vectorPaths[v]);
                opened.Add((checkpoint, TaskVectorInfo.Read(checkpoint), vectors[v].Lambda));
                var info = opened[^1].Info;
                if (info.BaseStructure != structure)
                {
                    var message = $"task vector '{vectorPaths[v]}' was extracted from another base ('{info.BasePath}'): the tensor names, dtypes or shapes of '{basePath}' differ from the ones it recorded";
                    if (!options.ForceBase) throw new MergeException(MergeErrorKind.Input, ErrorIds.BaseMismatch, message + $"; set {OptionNames.ForceBase} to apply it anyway");
                    warnings.Add(message);
                }
            }
            var terms = MapTerms(baseSource.Checkpoint, opened);
            var result = await ApplyTermsAsync(plan, terms, outputDirectory, basePath, vectorPaths, vectors, opened, options, warnings, progress, cancellationToken)
                .ConfigureAwait(false);
            return result;
        }
        finally
        {
            foreach (var o in opened) o.Checkpoint.Dispose();
        }
    }

    /// <summary>One scaled delta to add to a base tensor: stored whole, or as factors B (m×r) · A (r×n).</summary>
    private sealed record Term(double Lambda, TensorStreaming.Source? Whole, TensorStreaming.Source? A, TensorStreaming.Source? B);

    private static Dictionary<string, List<Term>> MapTerms(ModelCheckpoint baseCheckpoint, List<(ModelCheckpoint Checkpoint, TaskVectorInfo Info, double Lambda)> vectors)
    {
        var terms = new Dictionary<string, List<Term>>(StringComparer.Ordinal);
        foreach (var (checkpoint, info, lambda) in vectors)
        {
            foreach (var name in checkpoint.TensorNames.Order(StringComparer.Ordinal))
            {
                checkpoint.TryGetTensor(name, out var tensor, out var file);
                if (!tensor.Dtype.CanDecode())
                    throw new MergeException(MergeErrorKind.Input, ErrorIds.UnsupportedTensor, $"task vector '{info.Directory}': tensor '{name}' has dtype {tensor.Dtype.HeaderName()}, which is not a float type");
                if (name.EndsWith(TaskVectorInfo.FactorB, StringComparison.Ordinal)) continue; // taken with its A factor
                bool factored = name.EndsWith(TaskVectorInfo.FactorA, StringComparison.Ordinal);
                var baseName = factored ? name[..^TaskVectorInfo.FactorA.Length] : name;
                if (!baseCheckpoint.TryGetTensor(baseName, out var baseTensor, out _))
                    throw new MergeException(MergeErrorKind.Input, ErrorIds.TensorMissing, $"task vector '{info.Directory}': tensor '{baseName}' does not exist in the base");
                Term term;
                if (!factored)
                {
                    if (!tensor.Shape.SequenceEqual(baseTensor.Shape))
                        throw new MergeException(MergeErrorKind.Input, ErrorIds.ShapeMismatch, $"task vector '{info.Directory}': tensor '{name}' has shape {TensorShape.Format(tensor.Shape)} but the base's is {TensorShape.Format(baseTensor.Shape)}");
                    term = new Term(lambda, new(file, tensor), null, null);
                }
                else
                {
                    if (!checkpoint.TryGetTensor(baseName + TaskVectorInfo.FactorB, out var bTensor, out var bFile))
                        throw new MergeException(MergeErrorKind.Input, ErrorIds.TaskVectorInvalid, $"task vector '{info.Directory}': '{name}' has no partner '{baseName + TaskVectorInfo.FactorB}'");
                    var s = baseTensor.Shape;
                    if (s.Length != 2 || tensor.Shape.Length != 2 || bTensor.Shape.Length != 2 || tensor.Shape[1] != s[1] || bTensor.Shape[0] != s[0] || bTensor.Shape[1] != tensor.Shape[0])
                        throw new MergeException(MergeErrorKind.Input, ErrorIds.TaskVectorInvalid,
                            $"task vector '{info.Directory}': factors of '{baseName}' have shapes {TensorShape.Format(bTensor.Shape)} · {TensorShape.Format(tensor.Shape)}, which do not make the base's {TensorShape.Format(s)}");
                    term = new Term(lambda, null, new(file, tensor), new(bFile, bTensor));
                }
                if (!terms.TryGetValue(baseName, out var list)) terms[baseName] = list = new List<Term>();
                list.Add(term);
            }
            foreach (var name in checkpoint.TensorNames.Where(n => n.EndsWith(TaskVectorInfo.FactorB, StringComparison.Ordinal)))
                if (!checkpoint.TryGetTensor(name[..^TaskVectorInfo.FactorB.Length] + TaskVectorInfo.FactorA, out _, out _))
                    throw new MergeException(MergeErrorKind.Input, ErrorIds.TaskVectorInvalid, $"task vector '{info.Directory}': '{name}' has no partner factor A");
        }
        return terms;
    }

    private static async Task<ApplyResult> ApplyTermsAsync(MergePlan plan, Dictionary<string, List<Term>> terms, string outputDirectory, string basePath,
        IReadOnlyList<string> vectorPaths, IReadOnlyList<ScaledTaskVector> vectors, List<(ModelCheckpoint Checkpoint, TaskVectorInfo Info, double Lambda)> opened,
        ApplyOptions options, List<string> warnings, IMergeProgress progress, CancellationToken ct)
    {
        using var transaction = OutputTransaction.Begin(outputDirectory, options.Merge.Force, vectorPaths.Prepend(basePath));
        var fingerprint = new ModelFingerprint();
        int changed = 0;
        progress.Stage($"applying {vectors.Count} task vector{(vectors.Count == 1 ? "" : "s")}");
        progress.Started(plan.Jobs.Count, plan.BytesToRead, plan.BytesToWrite);
        await using (var writer = new ShardedModelWriter(transaction.StagingDirectory, plan.Jobs.Select(j => j.ToOutputTensor()).ToList(), options.Merge.MaxShardBytes))
        {
            var scratch = Array.Empty<byte>();
            var chunk = new float[TensorStreaming.ChunkElements];
            var delta = new float[TensorStreaming.ChunkElements];
            var sum = new double[TensorStreaming.ChunkElements];
            foreach (var job in plan.Jobs)
            {
                ct.ThrowIfCancellationRequested();
                var input = TensorStreaming.Of(job.Inputs[0], ct);
                var hash = fingerprint.Begin(input.Tensor.Name);
                byte[] bytes;
                if (!terms.TryGetValue(job.OutputName, out var list) && (job.Kind == JobKind.Copy || job.OutputDtype == input.Tensor.Dtype))
                {
                    bytes = TensorStreaming.ReadAll(input); // untouched: the base's bytes
                    hash?.AppendData(bytes);
                }
                else
                {
                    list ??= new List<Term>();
                    changed += list.Count > 0 ? 1 : 0;
                    var factors = list.Select(t => t.A is { } a ? (Read(a), Read(t.B!.Value), (int)a.Tensor.Shape[0]) : default).ToList();
                    long count = input.ElementCount, columns = job.OutputShape.Length == 2 ? job.OutputShape[1] : 0;
                    bytes = TensorStreaming.Allocate(job.OutputName, job.OutputDtype, count);
                    bool odd = OutputRounding.NeedsRoundToOdd(job.OutputDtype);
                    foreach (var (start, length) in TensorStreaming.Chunks(count))
                    {
                        TensorStreaming.Read(input, start, chunk.AsSpan(0, length), ref scratch, hash);
                        for (int i = 0; i < length; i++) sum[i] = chunk[i];
                        for (int t = 0; t < list.Count; t++)
                        {
                            double lambda = list[t].Lambda;
                            if (list[t].Whole is { } whole)
                            {
                                TensorStreaming.Read(whole, start, delta.AsSpan(0, length), ref scratch);
                                for (int i = 0; i < length; i++) sum[i] += lambda * delta[i];
                                continue;
                            }
                            var (a, b, rank) = factors[t];
                            for (int i = 0; i < length; i++)
                            {
                                long e = start + i, row = e / columns, column = e % columns;
                                double dot = 0;
                                for (int k = 0; k < rank; k++) dot += (double)b[row * rank + k] * a[k * columns + column];
                                sum[i] += lambda * dot;
                            }
                        }
                        for (int i = 0; i < length; i++) chunk[i] = OutputRounding.Narrow(sum[i], odd);
                        DtypeConversion.Encode(job.OutputDtype, chunk.AsSpan(0, length), bytes, start);
                    }
                }
                fingerprint.End(input.Tensor.Name);
                await writer.WriteTensorAsync(job.OutputName, bytes, ct).ConfigureAwait(false);
                progress.TensorWritten(job.OutputName, input.Tensor.ByteLength, bytes.Length);
            }
            await writer.CompleteAsync(ct).ConfigureAwait(false);
        }
        var baseFingerprint = fingerprint.Complete(plan.Models[0].Checkpoint, ct);
        foreach (var (_, info, _) in opened)
        {
            if (info.BaseFingerprint == baseFingerprint) continue;
            var message = $"task vector '{info.Directory}' was extracted from another base: '{basePath}' has fingerprint {baseFingerprint[..16]}…, the task vector recorded {info.BaseFingerprint[..Math.Min(16, info.BaseFingerprint.Length)]}… (from '{info.BasePath}')";
            if (!options.ForceBase) throw new MergeException(MergeErrorKind.Input, ErrorIds.BaseMismatch, message + $"; nothing was written. Set {OptionNames.ForceBase} to apply it anyway");
            if (!warnings.Any(w => w.Contains(info.Directory, StringComparison.Ordinal))) warnings.Add(message);
        }
        ModelFiles.WriteConfig(plan, transaction.StagingDirectory);
        if (options.Merge.CopyTokenizer) ModelFiles.CopyTokenizer(plan, transaction.StagingDirectory);
        if (options.Merge.WriteModelCard)
            File.WriteAllText(Path.Combine(transaction.StagingDirectory, "README.md"), ApplyCard(Path.GetFileName(transaction.OutputDirectory), basePath, vectorPaths, vectors, baseFingerprint));
        transaction.Commit();
        return new ApplyResult(transaction.OutputDirectory, plan.Jobs.Count, changed, baseFingerprint, warnings);
    }

    private static float[] Read(TensorStreaming.Source source)
    {
        var values = new float[source.ElementCount];
        var scratch = Array.Empty<byte>();
        foreach (var (start, length) in TensorStreaming.Chunks(values.Length))
            TensorStreaming.Read(source, start, values.AsSpan((int)start, length), ref scratch);
        return values;
    }

    /// <summary>δ = fine-tune − base, rounded once to the storage dtype; optionally its storage error (Σ(δ − stored)², Σδ²).</summary>
    private static (double Error, double Norm) WholeDelta(TensorStreaming.Source b, TensorStreaming.Source f, Dtype dtype, byte[] output,
        System.Security.Cryptography.IncrementalHash? hash, bool measure, ref byte[] scratch)
    {
        var x = new float[TensorStreaming.ChunkElements];
        var y = new float[TensorStreaming.ChunkElements];
        var exact = new double[TensorStreaming.ChunkElements];
        bool odd = OutputRounding.NeedsRoundToOdd(dtype);
        double error = 0, norm = 0;
        foreach (var (start, length) in TensorStreaming.Chunks(b.ElementCount))
        {
            TensorStreaming.Read(b, start, x.AsSpan(0, length), ref scratch, hash);
            TensorStreaming.Read(f, start, y.AsSpan(0, length), ref scratch);
            for (int i = 0; i < length; i++)
            {
                exact[i] = (double)y[i] - x[i]; // exact in float64
                y[i] = OutputRounding.Narrow(exact[i], odd);
            }
            DtypeConversion.Encode(dtype, y.AsSpan(0, length), output, start);
            if (!measure) continue;
            DtypeConversion.Decode(dtype, output, start, y.AsSpan(0, length));
            for (int i = 0; i < length; i++)
            {
                error += (exact[i] - y[i]) * (exact[i] - y[i]);
                norm += exact[i] * exact[i];
            }
        }
        return (error, norm);
    }

    internal static double[] ReadDelta(TensorStreaming.Source b, TensorStreaming.Source f, System.Security.Cryptography.IncrementalHash? hash, ref byte[] scratch)
    {
        long count = b.ElementCount;
        if (count > Array.MaxLength) throw new MergeException(MergeErrorKind.Input, ErrorIds.UnsupportedTensor, $"tensor '{b.Tensor.Name}' is too large for low-rank extraction ({count} elements)");
        var delta = new double[count];
        var x = new float[TensorStreaming.ChunkElements];
        var y = new float[TensorStreaming.ChunkElements];
        foreach (var (start, length) in TensorStreaming.Chunks(count))
        {
            TensorStreaming.Read(b, start, x.AsSpan(0, length), ref scratch, hash);
            TensorStreaming.Read(f, start, y.AsSpan(0, length), ref scratch);
            for (int i = 0; i < length; i++) delta[start + i] = (double)y[i] - x[i];
        }
        return delta;
    }

    /// <summary>Encodes a factor (rounded once from float64) and returns what was stored, decoded back.</summary>
    internal static byte[] EncodeFactor(double[] values, Dtype dtype, out float[] stored)
    {
        bool odd = OutputRounding.NeedsRoundToOdd(dtype);
        stored = new float[values.Length];
        for (int i = 0; i < values.Length; i++) stored[i] = OutputRounding.Narrow(values[i], odd);
        var bytes = new byte[dtype.ByteCount(values.Length)];
        DtypeConversion.Encode(dtype, stored, bytes, 0);
        DtypeConversion.Decode(dtype, bytes, 0, stored);
        return bytes;
    }

    /// <summary>(Σ(δ − B·A)², Σδ²) with the factors as stored.</summary>
    internal static (double Error, double Norm) ReconstructionError(double[] delta, int m, int n, float[] b, float[] a, int rank)
    {
        double error = 0, norm = 0;
        var row = new double[n];
        for (int i = 0; i < m; i++)
        {
            Array.Clear(row);
            for (int k = 0; k < rank; k++)
            {
                double w = b[(long)i * rank + k];
                for (int j = 0; j < n; j++) row[j] += w * a[(long)k * n + j];
            }
            for (int j = 0; j < n; j++)
            {
                double d = delta[(long)i * n + j];
                error += (d - row[j]) * (d - row[j]);
                norm += d * d;
            }
        }
        return (error, norm);
    }

    internal static ulong Fnv1a(string text)
    {
        ulong h = 14695981039346656037UL;
        foreach (var c in Encoding.UTF8.GetBytes(text)) h = (h ^ c) * 1099511628211UL;
        return h;
    }

    private static string ExtractCard(string title, IReadOnlyList<string> paths, string fingerprint, ExtractOptions options, int tensors, int factored,
        IReadOnlyList<string> skipped, double? overall)
    {
        var sb = new StringBuilder();
        sb.Append("---\ntags:\n- task-vector\n- dotnet-merge\n---\n\n# ").Append(title).Append("\n\n");
        sb.Append("A task vector (fine-tune − base, Ilharco et al. 2023, https://arxiv.org/abs/2212.04089) written by dotnet-merge.\n\n");
        sb.Append("- base: `").Append(paths[0]).Append("` (fingerprint `").Append(fingerprint).Append("`)\n");
        sb.Append("- fine-tune: `").Append(paths[1]).Append("`\n");
        sb.Append("- storage: ").Append(options.Dtype.TorchName()).Append(", ").Append(tensors.ToString(CultureInfo.InvariantCulture)).Append(" tensors");
        if (options.Rank is { } r)
            sb.Append($", {factored.ToString(CultureInfo.InvariantCulture)} of them as rank-{r.ToString(CultureInfo.InvariantCulture)} factor pairs (relative Frobenius error overall {overall!.Value.ToString("G4", CultureInfo.InvariantCulture)})");
        sb.Append('\n');
        if (skipped.Count > 0) sb.Append("- skipped (not floating point): ").Append(string.Join(", ", skipped.Select(s => "`" + s + "`"))).Append('\n');
        sb.Append("\nApply it with `dotnet merge apply --base BASE ").Append(title).Append(":1.0 -o OUT` (negate it with `:-1`).\n");
        return sb.ToString();
    }

    private static string ApplyCard(string title, string basePath, IReadOnlyList<string> vectorPaths, IReadOnlyList<ScaledTaskVector> vectors, string fingerprint)
    {
        var sb = new StringBuilder();
        sb.Append("---\nlibrary_name: transformers\ntags:\n- merge\n- task-arithmetic\n- dotnet-merge\n---\n\n# ").Append(title).Append("\n\n");
        sb.Append("Made with dotnet-merge by task arithmetic (Ilharco et al. 2023, https://arxiv.org/abs/2212.04089): base + Σ λᵢ·τᵢ, rounded once to the base's dtype.\n\n");
        sb.Append("- base: `").Append(basePath).Append("` (fingerprint `").Append(fingerprint).Append("`)\n");
        for (int i = 0; i < vectors.Count; i++)
            sb.Append("- task vector `").Append(vectorPaths[i]).Append("` with λ = ").Append(vectors[i].Lambda.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        return sb.ToString();
    }
}
