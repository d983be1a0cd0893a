using DotnetMerge.Cuda.Emission;
using DotnetMerge.Cuda.Tests.Infrastructure;
using DotnetMerge.Numerics;

namespace DotnetMerge.Cuda.Tests;

/// <summary>kernels/dtype.cuh, through emitted one-input linear kernels (weight 1, an exact identity) run on the CPU shim:
/// every code of every narrow format decoded, and a wide spread of float32 values encoded, against the textbook formulas,
/// .NET's Half, and the CPU backend's own conversions.</summary>
public sealed class DtypeShimTests
{
    public static TheoryData<Dtype> NarrowDtypes => new() { Dtype.BF16, Dtype.F16, Dtype.F8_E4M3, Dtype.F8_E5M2 };

    private static Reference.Format FormatOf(Dtype dtype) => dtype switch
    {
        Dtype.BF16 => Reference.Bf16,
        Dtype.F16 => Reference.F16,
        Dtype.F8_E4M3 => Reference.F8E4M3,
        _ => Reference.F8E5M2,
    };

    /// <summary>A kernel that only loads and stores (the merge kernels do float64 arithmetic in between, which would
    /// turn -0 into +0 as the CPU methods do): dtype.cuh's conversions alone.</summary>
    private static string Suffix(Dtype dtype) => dtype switch
    {
        Dtype.F32 => "f32",
        Dtype.BF16 => "bf16",
        Dtype.F16 => "f16",
        Dtype.F8_E4M3 => "f8e4m3",
        _ => "f8e5m2",
    };

    private static byte[] Identity(Dtype input, Dtype output, byte[] data, int count)
    {
        var layout = KernelParameterLayout.Create(new (string, KernelParameterType, int?, string)[]
        {
            ("in", KernelParameterType.InputPointer, 1, "input"),
            ("out", KernelParameterType.OutputPointer, null, "output"),
            ("count", KernelParameterType.UInt64, null, "elements"),
        });
        string entry = $"dm_convert_{Suffix(input)}_to_{Suffix(output)}";
        string source = KernelSources.Inline(["dtype.cuh"]) + layout.ToCDeclaration() +
            $"extern \"C\" __global__ void {entry}(const dm_params p)\n{{\n" +
            "    for (dm_u64 i = (dm_u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += (dm_u64)blockDim.x * gridDim.x)\n" +
            $"        dm_store_{Suffix(output)}(p.out, i, dm_load_{Suffix(input)}(p.in[0], i));\n}}\n";
        var kernel = new EmittedKernel(entry, source, layout, 64, "conversion");
        KernelArguments args = kernel.CreateArguments().Set("count", (ulong)count);
        return HostCompiler.RunKernel(kernel, args, [data], count * KernelEmitter.ElementSize(output), grid: 6, block: 64);
    }

    [SkippableTheory]
    [MemberData(nameof(NarrowDtypes))]
    public void Every_code_decodes_to_its_value(Dtype dtype)
    {
        HostCompiler.SkipIfUnavailable();
        Reference.Format format = FormatOf(dtype);
        uint[] codes = Enumerable.Range(0, 1 << (8 * format.Bytes)).Select(c => (uint)c).ToArray();
        float[] decoded = Reference.Floats(Identity(dtype, Dtype.F32, Reference.WriteCodes(format, codes), codes.Length));

        for (int i = 0; i < codes.Length; i++)
        {
            double expected = Reference.Decode(format, codes[i]);
            if (double.IsNaN(expected)) Assert.True(float.IsNaN(decoded[i]), $"code {codes[i]:x} should be NaN");
            else Assert.True(expected.Equals((double)decoded[i]), $"code {codes[i]:x}: expected {expected:R}, got {decoded[i]:R}");
            if (dtype == Dtype.F16 && !double.IsNaN(expected))
                Assert.Equal((float)BitConverter.UInt16BitsToHalf((ushort)codes[i]), decoded[i]);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(NarrowDtypes))]
    public void Float32_values_encode_to_the_nearest_code_ties_to_even(Dtype dtype)
    {
        HostCompiler.SkipIfUnavailable();
        Reference.Format format = FormatOf(dtype);
        float[] values = EncodeCases(format);
        byte[] encoded = Identity(Dtype.F32, dtype, Reference.FloatBytes(values), values.Length);

        for (int i = 0; i < values.Length; i++)
        {
            uint actual = Reference.ReadCode(format, encoded, i);
            uint expected = Reference.EncodeExactly(format, values[i]);
            Assert.True(expected == actual, $"{values[i]:R} ({BitConverter.SingleToUInt32Bits(values[i]):x8}): expected {expected:x}, got {actual:x}");
        }
    }

    public static TheoryData<Dtype> OutputDtypes => new() { Dtype.F32, Dtype.BF16, Dtype.F16, Dtype.F8_E4M3, Dtype.F8_E5M2 };

    /// <summary>The CPU backend's encoder (DtypeConversion.Encode, what every CPU merge writes through) and dtype.cuh's store
    /// give the same bytes for every output dtype the kernels can write, over every format's special values: signed zeros,
    /// subnormals, the largest finite values, overflow (past the largest finite value, at and around the tie above it),
    /// infinities, NaNs with and without payloads and sign, midpoints and the values next to them.</summary>
    [SkippableTheory]
    [MemberData(nameof(OutputDtypes))]
    public void Encoding_is_bit_identical_to_the_cpu_backend_on_every_output_dtype(Dtype dtype)
    {
        HostCompiler.SkipIfUnavailable();
        float[] values = [.. SpecialValues(), .. new[] { Dtype.BF16, Dtype.F16, Dtype.F8_E4M3, Dtype.F8_E5M2 }.SelectMany(d => EncodeCases(FormatOf(d)))];
        byte[] gpu = Identity(Dtype.F32, dtype, Reference.FloatBytes(values), values.Length);
        int size = KernelEmitter.ElementSize(dtype);
        var cpu = new byte[values.Length * size];
        DtypeConversion.Encode(dtype, values, cpu, 0);
        for (int i = 0; i < values.Length; i++)
            Assert.True(cpu.AsSpan(i * size, size).SequenceEqual(gpu.AsSpan(i * size, size)),
                $"{dtype} of {values[i]:R} ({BitConverter.SingleToUInt32Bits(values[i]):x8}): CPU {Convert.ToHexString(cpu, i * size, size)}, " +
                $"kernel {Convert.ToHexString(gpu, i * size, size)}");
    }

    /// <summary>Decoding: every code of every narrow input dtype gives the same float32 bits on both backends (NaNs
    /// included, which a merge with a float32 output carries through).</summary>
    [SkippableTheory]
    [MemberData(nameof(NarrowDtypes))]
    public void Decoding_is_bit_identical_to_the_cpu_backend(Dtype dtype)
    {
        HostCompiler.SkipIfUnavailable();
        Reference.Format format = FormatOf(dtype);
        uint[] codes = Enumerable.Range(0, 1 << (8 * format.Bytes)).Select(c => (uint)c).ToArray();
        byte[] data = Reference.WriteCodes(format, codes);
        float[] gpu = Reference.Floats(Identity(dtype, Dtype.F32, data, codes.Length));
        var cpu = new float[codes.Length];
        DtypeConversion.Decode(dtype, data, 0, cpu);
        for (int i = 0; i < codes.Length; i++)
            Assert.True(BitConverter.SingleToUInt32Bits(cpu[i]) == BitConverter.SingleToUInt32Bits(gpu[i]),
                $"{dtype} code {codes[i]:x}: CPU {BitConverter.SingleToUInt32Bits(cpu[i]):x8}, kernel {BitConverter.SingleToUInt32Bits(gpu[i]):x8}");
    }

    /// <summary>The special values of every format at once (each output dtype sees all of them).</summary>
    private static IEnumerable<float> SpecialValues()
    {
        float[] fixedValues = [0f, -0f, float.Epsilon, -float.Epsilon, 1e-40f, -1e-40f, float.MaxValue, float.MinValue,
            float.PositiveInfinity, float.NegativeInfinity, float.NaN, -float.NaN, BitConverter.UInt32BitsToSingle(0x7f800001),
            BitConverter.UInt32BitsToSingle(0xff800001), BitConverter.UInt32BitsToSingle(0x7fc00001), BitConverter.UInt32BitsToSingle(0x7fffffff),
            BitConverter.UInt32BitsToSingle(0xffa12345), BitConverter.UInt32BitsToSingle(0x7fe00000), 470f, -470f, 464f, 480f, 1e6f];
        foreach (float v in fixedValues) yield return v;
        foreach (Reference.Format f in new[] { Reference.Bf16, Reference.F16, Reference.F8E4M3, Reference.F8E5M2 })
        {
            double max = f.MaxFinite, quantum = Math.ScaleB(1, Math.ILogB(max) - f.MantissaBits);
            double minSubnormal = Math.ScaleB(1, 1 - f.Bias - f.MantissaBits), minNormal = Math.ScaleB(1, 1 - f.Bias);
            foreach (double v in new[] { max, max + quantum / 2, max + quantum, max * 1.01, minSubnormal, minSubnormal / 2,
                minSubnormal * 0.75, minSubnormal * 1.5, minNormal, minNormal - minSubnormal, minNormal - minSubnormal / 2 })
            {
                float x = (float)v;
                if (float.IsInfinity(x)) continue; // bf16's overflow edges lie past float32's range
                foreach (float y in new[] { x, MathF.BitIncrement(x), MathF.BitDecrement(x) }) { yield return y; yield return -y; }
            }
        }
    }

    /// <summary>Every exactly representable value, the midpoints between neighbours (exact ties), points just off them,
    /// the overflow and underflow edges, infinities, NaNs (with payloads), signed zeros, and random bit patterns.</summary>
    private static float[] EncodeCases(Reference.Format format)
    {
        var values = new List<float> { 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, -float.NaN,
            BitConverter.UInt32BitsToSingle(0x7f800001), BitConverter.UInt32BitsToSingle(0xffa12345), float.Epsilon, -float.Epsilon,
            float.MaxValue, float.MinValue, (float)format.MaxFinite, (float)(format.MaxFinite * 1.01), (float)(format.MaxFinite * 1.1) };
        int codeCount = 1 << (8 * format.Bytes);
        int step = Math.Max(1, codeCount / 4096);
        for (uint code = 0; code < codeCount; code += (uint)step)
        {
            double value = Reference.Decode(format, code), next = Reference.Decode(format, code + 1);
            if (double.IsNaN(value) || double.IsInfinity(value)) continue;
            values.Add((float)value);
            if (double.IsNaN(next) || double.IsInfinity(next) || code + 1 >= codeCount || Math.Sign(next) != Math.Sign(value)) continue;
            float midpoint = (float)((value + next) / 2);
            if ((double)midpoint != (value + next) / 2) continue; // not representable in float32 (bf16 extremes)
            values.Add(midpoint);
            values.Add(MathF.BitIncrement(midpoint));
            values.Add(MathF.BitDecrement(midpoint));
        }
        var random = new Random(format.Name.Length * 7919);
        for (int i = 0; i < 3000; i++) values.Add(BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32)));
        for (int i = 0; i < 2000; i++) values.Add((float)(random.NextDouble() * 2 - 1) * (float)Math.ScaleB(1, random.Next(-30, 20)));
        return values.ToArray();
    }
}
