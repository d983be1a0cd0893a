using DotnetMerge.Numerics;

namespace DotnetMerge.Kernels;

/// <summary>One input tensor of one model for the output tensor being merged, held in its stored dtype.</summary>
public sealed class MergeInput
{
    public MergeInput(string model, string tensorName, Dtype dtype, long[] shape, ReadOnlyMemory<byte> data, bool isBase, ParameterBag parameters)
    {
        Model = model; TensorName = tensorName; Dtype = dtype; Shape = shape; Data = data; IsBase = isBase; Parameters = parameters;
        StoredShape = shape;
    }

    /// <summary>Model reference as written in the definition (path).</summary>
    public string Model { get; }
    /// <summary>Name of this tensor in the input model (may differ from the output name for slices).</summary>
    public string TensorName { get; }
    public Dtype Dtype { get; }
    public long[] Shape { get; }
    public long ElementCount => TensorShape.ElementCount(Shape);
    /// <summary>Raw little-endian bytes in <see cref="Dtype"/>.</summary>
    public ReadOnlyMemory<byte> Data { get; }
    public bool IsBase { get; }
    /// <summary>Per-model parameters resolved for this tensor (weight, density, gamma, epsilon, scale...).</summary>
    public ParameterBag Parameters { get; }

    /// <summary>Shape of the tensor as stored in the checkpoint; differs from <see cref="Shape"/> only for
    /// cropped views (an embedding cut to a common vocabulary: rows and columns are leading sub-ranges).</summary>
    public long[] StoredShape { get; private init; } = null!;

    /// <summary>Set when a whole-model pre-pass found this model's magnitude threshold (TIES <c>trim_scope: model</c>,
    /// <c>Methods/TaskArithmetic/ModelScopeTrim</c>): the input's task-vector elements with |δ| at or above it are kept.</summary>
    public float? MagnitudeThreshold { get; init; }

    /// <summary>A view of this input cropped to the leading [rows, cols] sub-matrix (2-D tensors only).</summary>
    public MergeInput CropTo(long[] shape)
    {
        if (shape.SequenceEqual(Shape)) return this;
        if (shape.Length != 2 || Shape.Length != 2 || shape[0] > Shape[0] || shape[1] > Shape[1])
            throw new ArgumentException($"cannot crop {TensorShape.Format(Shape)} to {TensorShape.Format(shape)}");
        return new MergeInput(Model, TensorName, Dtype, shape, Data, IsBase, Parameters) { StoredShape = StoredShape, MagnitudeThreshold = MagnitudeThreshold };
    }

    /// <summary>Decodes elements [start, start + destination.Length) of the (possibly cropped) view to float32.</summary>
    public void Decode(long start, Span<float> destination)
    {
        if (ReferenceEquals(StoredShape, Shape) || StoredShape.Length != 2 || StoredShape[1] == Shape[1])
        {
            DtypeConversion.Decode(Dtype, Data.Span, start, destination);
            return;
        }
        long cols = Shape[1], storedCols = StoredShape[1];
        int done = 0;
        while (done < destination.Length)
        {
            long index = start + done;
            long row = index / cols, col = index % cols;
            int run = (int)Math.Min(cols - col, destination.Length - done);
            DtypeConversion.Decode(Dtype, Data.Span, row * storedCols + col, destination.Slice(done, run));
            done += run;
        }
    }
}

/// <summary>Everything a merge method needs to compute one output tensor.</summary>
public sealed class TensorMergeContext
{
    public TensorMergeContext(string outputName, IReadOnlyList<MergeInput> inputs, int baseIndex, ParameterBag global,
        long[] outputShape, Dtype outputDtype, Memory<byte> output, ulong seed, bool isEmbedding, ExecutionSettings settings)
    {
        OutputName = outputName; Inputs = inputs; BaseIndex = baseIndex; Global = global; OutputShape = outputShape;
        OutputDtype = outputDtype; Output = output; Seed = seed; IsEmbedding = isEmbedding; Settings = settings;
    }

    public string OutputName { get; }
    /// <summary>Inputs in definition order; the base model (if any) is among them at <see cref="BaseIndex"/>.</summary>
    public IReadOnlyList<MergeInput> Inputs { get; }
    /// <summary>Index of the base model in <see cref="Inputs"/>, or -1.</summary>
    public int BaseIndex { get; }
    public MergeInput? Base => BaseIndex >= 0 ? Inputs[BaseIndex] : null;
    /// <summary>Method-wide parameters resolved for this tensor (t, normalize, lambda, ...).</summary>
    public ParameterBag Global { get; }
    public long[] OutputShape { get; }
    public long OutputElementCount => TensorShape.ElementCount(OutputShape);
    public Dtype OutputDtype { get; }
    /// <summary>Destination bytes in <see cref="OutputDtype"/>, exactly OutputElementCount * size.</summary>
    public Memory<byte> Output { get; }
    /// <summary>Seed of the run (randomised methods key their counter-based generator with it).</summary>
    public ulong Seed { get; }
    /// <summary>True for embedding / LM-head matrices (vocabulary-sized rows).</summary>
    public bool IsEmbedding { get; }
    public ExecutionSettings Settings { get; }

    /// <summary>Encodes float32 values into the output at element offset <paramref name="start"/>.</summary>
    public void Encode(long start, ReadOnlySpan<float> values) => DtypeConversion.Encode(OutputDtype, values, Output.Span, start);
}

/// <summary>Knobs of the CPU backend that do not change results.</summary>
public sealed record ExecutionSettings(int Threads, int ChunkElements = 1 << 16)
{
    public static ExecutionSettings Default { get; } = new(Environment.ProcessorCount);
}

public static class TensorShape
{
    public static long ElementCount(long[] shape)
    {
        long n = 1;
        foreach (var d in shape) n = checked(n * d);
        return n;
    }

    public static string Format(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
