using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using DotnetMerge.Definitions;
using DotnetMerge.Numerics;
using DotnetMerge.Planning;

namespace DotnetMerge.Checks;

/// <summary><c>check --scan</c>: reads every input tensor a plan uses, once, and reports those holding NaN or infinite
/// values with their counts (one warning per tensor). Opt-in, because it reads every byte of every input, which the
/// rest of <c>check</c> never does; the run itself reports non-finite values that reach the output.</summary>
public static class InputScan
{
    private const int ChunkBytes = 16 << 20;

    public sealed record Summary(int Tensors, long Bytes, IReadOnlyList<CheckFinding> Findings);

    public static Summary Run(MergePlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var seen = new HashSet<(string, string)>();
        var findings = new List<CheckFinding>();
        long bytes = 0;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            // An earlier stage's output (File null, no adaptation) is no stored input: its own stage's scan covers what it
            // reads. A LoRA-adapted tensor is scanned as the merge sees it: the base tensor with the delta applied. An
            // embedding aligned to the output vocabulary is scanned as stored.
            foreach (var input in plan.Jobs.SelectMany(j => j.Inputs).Select(i => i.Gather?.Raw ?? i).Where(i => i.File is not null || i.Adaptation is not null))
            {
                var source = input.Adaptation is { } a ? a.AdapterFile.Path + "+" + a.BaseFile.Path : input.StoredFile.Path;
                if (!seen.Add((source, input.Tensor.Name))) continue;
                int size = input.Tensor.Dtype.BitSize() / 8;
                if (size == 0 || !HasNonFinite(input.Tensor.Dtype)) continue;
                long nan = 0, inf = 0;
                if (input.Adaptation is not null)
                    Count(input.Tensor.Dtype, Soups.TensorStreaming.Of(input, cancellationToken).Computed!, ref nan, ref inf);
                else
                {
                    int chunk = ChunkBytes / size * size;
                    for (long offset = 0; offset < input.Tensor.ByteLength; offset += chunk)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        var span = buffer.AsSpan(0, (int)Math.Min(chunk, input.Tensor.ByteLength - offset));
                        input.StoredFile.ReadTensorRange(input.Tensor, offset, span);
                        Count(input.Tensor.Dtype, span, ref nan, ref inf);
                    }
                }
                bytes += input.Tensor.ByteLength;
                if (nan + inf > 0)
                    findings.Add(new CheckFinding(DiagnosticSeverity.Warning, CheckIds.NonFiniteInput, string.Format(CultureInfo.InvariantCulture,
                        "model '{0}': tensor '{1}'{5} holds {2:N0} NaN and {3:N0} infinite values (of {4:N0}); a merge carries them into the output",
                        input.Model, input.Tensor.Name, nan, inf, input.Tensor.ElementCount,
                        input.Adaptation is not null ? " (with the adapter's delta applied)" : ""), input.Model.Reference.Location));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return new Summary(seen.Count, bytes, findings);
    }

    private static bool HasNonFinite(Dtype dtype) => dtype is Dtype.F32 or Dtype.F64 or Dtype.F16 or Dtype.BF16 or Dtype.F8_E5M2 or Dtype.F8_E4M3;

    /// <summary>NaN and infinities of IEEE-style encodings (exponent all ones: mantissa 0 is an infinity); e4m3fn has
    /// no infinity and one NaN pattern per sign (S.1111.111).</summary>
    private static void Count(Dtype dtype, ReadOnlySpan<byte> data, ref long nan, ref long inf)
    {
        switch (dtype)
        {
            case Dtype.F32:
                for (int i = 0; i + 4 <= data.Length; i += 4) Classify(BinaryPrimitives.ReadUInt32LittleEndian(data[i..]), 0x7F80_0000u, 0x007F_FFFFu, ref nan, ref inf);
                break;
            case Dtype.F64:
                for (int i = 0; i + 8 <= data.Length; i += 8)
                {
                    double d = BinaryPrimitives.ReadDoubleLittleEndian(data[i..]);
                    if (double.IsNaN(d)) nan++; else if (double.IsInfinity(d)) inf++;
                }
                break;
            case Dtype.F16:
                for (int i = 0; i + 2 <= data.Length; i += 2) Classify(BinaryPrimitives.ReadUInt16LittleEndian(data[i..]), 0x7C00u, 0x03FFu, ref nan, ref inf);
                break;
            case Dtype.BF16:
                for (int i = 0; i + 2 <= data.Length; i += 2) Classify(BinaryPrimitives.ReadUInt16LittleEndian(data[i..]), 0x7F80u, 0x007Fu, ref nan, ref inf);
                break;
            case Dtype.F8_E5M2:
                foreach (byte b in data) Classify(b, 0x7Cu, 0x03u, ref nan, ref inf);
                break;
            case Dtype.F8_E4M3:
                foreach (byte b in data) if ((b & 0x7F) == 0x7F) nan++;
                break;
        }
    }

    private static void Classify(uint bits, uint exponent, uint mantissa, ref long nan, ref long inf)
    {
        if ((bits & exponent) != exponent) return;
        if ((bits & mantissa) != 0) nan++; else inf++;
    }
}
