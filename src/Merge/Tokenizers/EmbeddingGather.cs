using DotnetMerge.Execution;
using DotnetMerge.Kernels;
using DotnetMerge.Numerics;
using DotnetMerge.Planning;

namespace DotnetMerge.Tokenizers;

/// <summary>The embedding (or LM head) of every model of one tensor job, aligned to the output vocabulary. One instance
/// per job; <see cref="GatheredRows"/> is the computed input of one model (<see cref="JobInput.Gather"/>).</summary>
public sealed class EmbeddingGather
{
    /// <summary>Rows per parallel block (and per block of the deterministic mean).</summary>
    private const int BlockRows = 1024;

    /// <param name="raw">Per vocabulary model: the tensor as the model stores it (or computes it: adapter, stage), or
    /// null when the model has no such tensor (its rows cannot be a default source).</param>
    public EmbeddingGather(OutputVocabulary vocabulary, IReadOnlyList<JobInput?> raw, long hidden)
    {
        Vocabulary = vocabulary; Raw = raw; Hidden = hidden;
    }

    public OutputVocabulary Vocabulary { get; }
    public IReadOnlyList<JobInput?> Raw { get; }
    public long Hidden { get; }

    private readonly Dictionary<int, int[]> _sources = new();

    /// <summary>The models whose rows model <paramref name="m"/>'s defaults average (other than its own).</summary>
    private int[] SourcesOf(int m)
    {
        lock (_sources)
        {
            if (!_sources.TryGetValue(m, out var sources)) _sources[m] = sources = FindSources(m);
            return sources;
        }
    }

    private int[] FindSources(int m)
    {
        var map = Vocabulary.Maps[m];
        var seen = new SortedSet<int>();
        foreach (var (row, recipe) in Vocabulary.Defaults)
            if (map[row] == OutputVocabulary.NeedsDefault)
                foreach (var s in recipe) if (s.Model != m && Raw[s.Model] is not null) seen.Add(s.Model);
        return seen.ToArray();
    }

    /// <summary>Bytes read from disk to align model <paramref name="m"/>: its own tensor and the default rows it takes
    /// from other models.</summary>
    public long BytesFromDisk(int m)
    {
        lock (_bytes)
        {
            if (!_bytes.TryGetValue(m, out var bytes)) _bytes[m] = bytes = CountBytesFromDisk(m);
            return bytes;
        }
    }

    private readonly Dictionary<int, long> _bytes = new();

    private long CountBytesFromDisk(int m)
    {
        var own = Raw[m]!;
        long bytes = own.BytesFromDisk;
        var map = Vocabulary.Maps[m];
        foreach (var (row, recipe) in Vocabulary.Defaults)
            if (map[row] == OutputVocabulary.NeedsDefault)
                foreach (var s in recipe)
                    if (s.Model != m && Raw[s.Model] is { } r)
                        bytes += r.File is null ? 0 : r.Tensor.Dtype.ByteCount(Hidden);
        return bytes;
    }

    /// <summary>Bytes held while model <paramref name="m"/> is aligned, besides the aligned buffer: its own stored
    /// tensor, and the whole tensors of computed default sources (files are mapped or read by rows).</summary>
    public long WorkingBytes(int m)
    {
        var own = Raw[m]!;
        long bytes = own.ByteLength + own.UpstreamWorkingBytes;
        foreach (var j in SourcesOf(m))
            if (Raw[j] is { File: null } r) bytes += r.ByteLength + r.UpstreamWorkingBytes;
        return bytes;
    }

    /// <summary>Fills <paramref name="destination"/> ([Rows, Hidden] in the model's dtype) with model <paramref name="m"/>'s
    /// aligned rows: own rows copied as bytes, default rows as the float64 mean of their sources rounded once to the
    /// dtype, padding rows as the float64 mean of the real rows.</summary>
    internal void Fill(int m, Memory<byte> destination, Action<JobInput, Memory<byte>> readRaw, Func<long, NativeBuffer> rent,
        Action<NativeBuffer> giveBack, ExecutionSettings settings, CancellationToken ct)
    {
        var own = Raw[m]!;
        var dtype = own.Tensor.Dtype;
        long rowBytes = dtype.ByteCount(Hidden);
        long rows = Vocabulary.Rows;
        if (destination.Length != rows * rowBytes)
            throw new InvalidOperationException($"aligned '{own.TensorName}' of '{own.Model.Name}': {rows * rowBytes} bytes planned, {destination.Length} given");
        var held = new List<IDisposable>();
        var buffers = new List<NativeBuffer>();
        try
        {
            ReadOnlyMemory<byte> Acquire(JobInput input)
            {
                if (input.File is { } file)
                {
                    if (MappedTensor.TryMap(file, input.Tensor) is { } mapped) { held.Add(mapped); return mapped.Memory; }
                    var b = rent(input.ByteLength);
                    buffers.Add(b);
                    file.ReadTensor(input.Tensor, b.Memory.Span);
                    return b.Memory;
                }
                var computed = rent(input.ByteLength);
                buffers.Add(computed);
                readRaw(input, computed.Memory);
                return computed.Memory;
            }
            var source = Acquire(own);
            var map = Vocabulary.Maps[m];
            // Another model's rows for the defaults: from a stored file only the rows the recipes name (as BytesFromDisk
            // counts them; mapping the whole tensor would touch all of it), unless they are most of it; a computed
            // tensor whole.
            var others = new Dictionary<int, SourceRows>();
            foreach (var j in SourcesOf(m))
            {
                var raw = Raw[j]!;
                others[j] = raw.File is { } file && NamedRows(m, j) is { } rowsOf && rowsOf.Count <= raw.Tensor.Shape[0] / 2
                    ? ReadRows(file, raw, rowsOf)
                    : new SourceRows(Acquire(raw), null);
            }
            ct.ThrowIfCancellationRequested();

            int hidden = checked((int)Hidden);
            int blocks = (int)((rows + BlockRows - 1) / BlockRows);
            var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, settings.Threads), CancellationToken = ct };
            bool anyPadding = false;
            Parallel.For(0, blocks, options, () => new Scratch(hidden), (block, _, scratch) =>
            {
                var dst = destination.Span;
                var src = source.Span;
                for (long r = (long)block * BlockRows; r < Math.Min(rows, (long)(block + 1) * BlockRows); r++)
                {
                    int v = map[r];
                    var target = dst.Slice(checked((int)(r * rowBytes)), (int)rowBytes);
                    if (v >= 0) src.Slice(checked((int)(v * rowBytes)), (int)rowBytes).CopyTo(target);
                    else if (v == OutputVocabulary.NeedsDefault) DefaultRow((int)r, m, source, others, scratch, dtype, target);
                    else anyPadding = true;
                }
                return scratch;
            }, _ => { });

            if (anyPadding) MeanPadding(m, destination, dtype, rowBytes, hidden, blocks, options);
        }
        finally
        {
            foreach (var h in held) h.Dispose();
            foreach (var b in buffers) giveBack(b);
        }
    }

    /// <summary>The default embedding of output row <paramref name="row"/>, encoded in <paramref name="dtype"/>.</summary>
    private void DefaultRow(int row, int m, ReadOnlyMemory<byte> own, Dictionary<int, SourceRows> others, Scratch scratch,
        Dtype dtype, Span<byte> target)
    {
        var sum = scratch.Sum;
        Array.Clear(sum);
        var recipe = Vocabulary.Defaults[row];
        int used = 0;
        foreach (var s in recipe)
        {
            ReadOnlyMemory<byte> data;
            long at = s.Row;
            if (s.Model == m) data = own;
            else if (others.TryGetValue(s.Model, out var rows)) (data, at) = (rows.Data, rows.IndexOf(s.Row));
            else continue;
            var sourceDtype = Raw[s.Model]!.Tensor.Dtype;
            DtypeConversion.Decode(sourceDtype, data.Span, at * Hidden, scratch.Row);
            for (int j = 0; j < sum.Length; j++) sum[j] += scratch.Row[j];
            used++;
        }
        for (int j = 0; j < sum.Length; j++) scratch.Row[j] = used == 0 ? 0f : (float)(sum[j] / used);
        DtypeConversion.Encode(dtype, scratch.Row, target, 0);
    }

    /// <summary>Padding rows: the mean of the rows that are not padding, summed per fixed block and the blocks added in
    /// order (the same bytes whatever the thread count).</summary>
    private void MeanPadding(int m, Memory<byte> destination, Dtype dtype, long rowBytes, int hidden, int blocks, ParallelOptions options)
    {
        var map = Vocabulary.Maps[m];
        long rows = Vocabulary.Rows;
        var partial = new double[blocks][];
        var counts = new long[blocks];
        Parallel.For(0, blocks, options, () => new Scratch(hidden), (block, _, scratch) =>
        {
            var sums = partial[block] = new double[hidden];
            var span = destination.Span;
            for (long r = (long)block * BlockRows; r < Math.Min(rows, (long)(block + 1) * BlockRows); r++)
            {
                if (map[r] == OutputVocabulary.MeanPadding) continue;
                DtypeConversion.Decode(dtype, span, r * hidden, scratch.Row);
                for (int j = 0; j < hidden; j++) sums[j] += scratch.Row[j];
                counts[block]++;
            }
            return scratch;
        }, _ => { });
        var mean = new double[hidden];
        long n = 0;
        for (int b = 0; b < blocks; b++)
        {
            n += counts[b];
            for (int j = 0; j < hidden; j++) mean[j] += partial[b][j];
        }
        var row = new float[hidden];
        for (int j = 0; j < hidden; j++) row[j] = n == 0 ? 0f : (float)(mean[j] / n);
        var encoded = new byte[rowBytes];
        DtypeConversion.Encode(dtype, row, encoded, 0);
        var dst = destination.Span;
        for (long r = 0; r < rows; r++)
            if (map[r] == OutputVocabulary.MeanPadding) encoded.CopyTo(dst.Slice(checked((int)(r * rowBytes)), (int)rowBytes));
    }

    /// <summary>The rows of model <paramref name="j"/> that model <paramref name="m"/>'s default rows name, ascending.</summary>
    private SortedSet<long> NamedRows(int m, int j)
    {
        var map = Vocabulary.Maps[m];
        var rows = new SortedSet<long>();
        foreach (var (row, recipe) in Vocabulary.Defaults)
            if (map[row] == OutputVocabulary.NeedsDefault)
                foreach (var s in recipe) if (s.Model == j) rows.Add(s.Row);
        return rows;
    }

    /// <summary>Reads <paramref name="rows"/> of a stored tensor, each run of consecutive rows in one read.</summary>
    private SourceRows ReadRows(Models.ITensorFile file, JobInput raw, SortedSet<long> rows)
    {
        long rowBytes = raw.Tensor.Dtype.ByteCount(Hidden);
        var bytes = new byte[checked(rows.Count * rowBytes)];
        var index = new Dictionary<long, long>(rows.Count);
        long first = -1, previous = -1, at = 0, runStart = 0;
        void Flush()
        {
            if (first < 0) return;
            long count = previous - first + 1;
            file.ReadTensorRange(raw.Tensor, first * rowBytes, bytes.AsSpan(checked((int)(runStart * rowBytes)), checked((int)(count * rowBytes))));
        }
        foreach (var row in rows)
        {
            if (row != previous + 1 || first < 0) { Flush(); first = row; runStart = at; }
            index[row] = at++;
            previous = row;
        }
        Flush();
        return new SourceRows(bytes, index);
    }

    /// <summary>Another model's rows: its whole tensor (<see cref="Index"/> null), or only some rows, packed.</summary>
    private sealed record SourceRows(ReadOnlyMemory<byte> Data, Dictionary<long, long>? Index)
    {
        public long IndexOf(long row) => Index is null ? row : Index[row];
    }

    private sealed class Scratch(int hidden)
    {
        public float[] Row { get; } = new float[hidden];
        public double[] Sum { get; } = new double[hidden];
    }
}

/// <summary>One model's aligned embedding: a computed input (<see cref="JobInput.File"/> is null).</summary>
public sealed record GatheredRows(EmbeddingGather Gather, int Model)
{
    public long BytesFromDisk => Gather.BytesFromDisk(Model);
    public long WorkingBytes => Gather.WorkingBytes(Model);
    public JobInput Raw => Gather.Raw[Model]!;
}
