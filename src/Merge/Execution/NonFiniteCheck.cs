using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using DotnetMerge.Engine;
using DotnetMerge.Kernels;
using DotnetMerge.Numerics;
using DotnetMerge.Planning;

namespace DotnetMerge.Execution;

/// <summary>The engine never writes a NaN or an infinity without saying so. After a tensor is merged its output is
/// scanned once (a vectorised test of the exponent bits, in parallel chunks, while the output is still in cache from
/// the map pass); only when it holds non-finite values are the inputs scanned too. Non-finite values that the inputs
/// already held are a warning with both counts; non-finite values the method produced from finite inputs are an error
/// (the run stops and writes nothing).</summary>
internal static class NonFiniteCheck
{
    /// <summary>Elements per parallel chunk of the scan.</summary>
    private const int ChunkElements = 1 << 20;

    /// <summary>Null when the output is finite, a warning when the inputs already held non-finite values; throws a
    /// <see cref="MergeException"/> when the method made them from finite inputs.</summary>
    public static string? Check(string method, TensorJob job, ReadOnlySpan<byte> output, IReadOnlyList<MergeInput> inputs, ExecutionSettings settings)
    {
        long produced = Count(job.OutputDtype, output, settings.Threads);
        if (produced == 0) return null;
        long elements = output.Length / Math.Max(1, job.OutputDtype.BitSize() / 8);
        long inInputs = 0;
        foreach (var input in inputs) inInputs += Count(input.Dtype, input.Data.Span, settings.Threads);
        string counts = string.Create(CultureInfo.InvariantCulture, $"{produced} of {elements} values");
        if (inInputs > 0)
            return string.Create(CultureInfo.InvariantCulture,
                $"tensor '{job.OutputName}': {counts} of the merged output are NaN or infinite; its inputs hold {inInputs} such values");
        throw new MergeException(MergeErrorKind.Input, ErrorIds.NonFiniteResult,
            $"{method} produced NaN or infinite values in tensor '{job.OutputName}' ({counts}, {job.OutputDtype.HeaderName()}) from finite inputs; " +
            "nothing was written. Check the parameters: a weight or scale so large that values overflow the dtype, or weights that cancel to zero.");
    }

    /// <summary>Number of NaN and infinite elements of <paramref name="data"/> (0 for types without them).</summary>
    public static long Count(Dtype dtype, ReadOnlySpan<byte> data, int threads = 1)
    {
        int size = dtype.BitSize() / 8;
        if (size == 0 || !dtype.CanDecode()) return 0;
        long n = data.Length / size;
        if (threads <= 1 || n <= ChunkElements) return CountSerial(dtype, data);
        int chunks = (int)((n + ChunkElements - 1) / ChunkElements);
        long total = 0;
        unsafe
        {
            fixed (byte* p = data)
            {
                byte* basePtr = p;
                int length = data.Length;
                Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, () => 0L,
                    (c, _, sum) =>
                    {
                        long start = (long)c * ChunkElements * size;
                        int len = (int)Math.Min((long)ChunkElements * size, length - start);
                        return sum + CountSerial(dtype, new ReadOnlySpan<byte>(basePtr + start, len));
                    },
                    sum => Interlocked.Add(ref total, sum));
            }
        }
        return total;
    }

    private static long CountSerial(Dtype dtype, ReadOnlySpan<byte> data) => dtype switch
    {
        Dtype.F32 => CountMasked(MemoryMarshal.Cast<byte, uint>(data), 0x7F80_0000u),
        Dtype.F64 => CountF64(data),
        Dtype.F16 => CountMasked(MemoryMarshal.Cast<byte, ushort>(data), (ushort)0x7C00),
        Dtype.BF16 => CountMasked(MemoryMarshal.Cast<byte, ushort>(data), (ushort)0x7F80),
        // e5m2 has IEEE-style infinities and NaNs (exponent all ones); e4m3fn has no infinity, only NaN (S.1111.111).
        Dtype.F8_E5M2 => CountBytes(data, 0x7C, 0x7C),
        Dtype.F8_E4M3 => CountBytes(data, 0x7F, 0x7F),
        _ => 0,
    };

    /// <summary>Elements whose bits under <paramref name="exponent"/> are all set (an IEEE exponent of all ones).</summary>
    private static long CountMasked<T>(ReadOnlySpan<T> values, T exponent) where T : unmanaged, IBinaryInteger<T>
    {
        long count = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= Vector<T>.Count)
        {
            var mask = new Vector<T>(exponent);
            var vectors = MemoryMarshal.Cast<T, Vector<T>>(values);
            // Lanes of an all-ones comparison are -1: summing them in lanes of T needs a flush before they wrap.
            int block = typeof(T) == typeof(ushort) ? ushort.MaxValue : int.MaxValue;
            for (int v = 0; v < vectors.Length;)
            {
                int end = (int)Math.Min(vectors.Length, (long)v + block);
                var acc = Vector<T>.Zero;
                for (; v < end; v++) acc -= Vector.Equals(vectors[v] & mask, mask);
                for (int lane = 0; lane < Vector<T>.Count; lane++) count += long.CreateTruncating(acc[lane]);
            }
            i = vectors.Length * Vector<T>.Count;
        }
        for (; i < values.Length; i++) if ((values[i] & exponent) == exponent) count++;
        return count;
    }

    private static long CountF64(ReadOnlySpan<byte> data)
    {
        long count = 0;
        for (int i = 0; i + 8 <= data.Length; i += 8)
            if (!double.IsFinite(BinaryPrimitives.ReadDoubleLittleEndian(data[i..]))) count++;
        return count;
    }

    private static long CountBytes(ReadOnlySpan<byte> data, byte mask, byte value)
    {
        long count = 0;
        foreach (byte b in data) if ((b & mask) == value) count++;
        return count;
    }
}
