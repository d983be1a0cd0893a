using System.Globalization;
using DotnetMerge.Cuda.Emission;
using DotnetMerge.Cuda.Tests.Infrastructure;
using DotnetMerge.Numerics;

namespace DotnetMerge.Cuda.Tests;

/// <summary>The emitted kernel text (baselines), its determinism and self-containment, and the parameter layout.</summary>
public sealed class KernelEmitterTests
{
    public static TheoryData<string> BaselineCases => new(Kernels().Keys);

    private static Dictionary<string, EmittedKernel> Kernels() => new()
    {
        ["linear_n3_bf16.cu"] = KernelEmitter.EmitLinear(3, [Dtype.BF16, Dtype.BF16, Dtype.BF16], Dtype.BF16),
        ["linear_n2_mixed_f32.cu"] = KernelEmitter.EmitLinear(2, [Dtype.F16, Dtype.F8_E4M3], Dtype.F32),
        ["task_arithmetic_n3_b0.cu"] = KernelEmitter.EmitTaskArithmetic(3, 0, [Dtype.BF16, Dtype.BF16, Dtype.F16], Dtype.BF16),
        ["dare_linear_n3_b1.cu"] = KernelEmitter.EmitTaskArithmetic(3, 1, [Dtype.F32, Dtype.BF16, Dtype.F8_E5M2], Dtype.F16, dareMask: true),
        ["dare_ties_n3_b0_norm.cu"] = KernelEmitter.EmitTaskArithmetic(3, 0, [Dtype.BF16, Dtype.BF16, Dtype.BF16], Dtype.BF16, dareMask: true, signConsensus: true, normalize: true),
        ["dare_norms_n3_b1.cu"] = KernelEmitter.EmitDareNorms(3, 1, [Dtype.BF16, Dtype.BF16, Dtype.F32]),
        ["ties_n3_b0_norm.cu"] = KernelEmitter.EmitTaskArithmetic(3, 0, [Dtype.BF16, Dtype.BF16, Dtype.BF16], Dtype.BF16, KernelMask.Magnitude, signConsensus: true, normalize: true),
        ["breadcrumbs_n3_b1.cu"] = KernelEmitter.EmitTaskArithmetic(3, 1, [Dtype.F32, Dtype.BF16, Dtype.F16], Dtype.BF16, KernelMask.Magnitude),
        ["trim_norms_n3_b2.cu"] = KernelEmitter.EmitNorms(3, 2, [Dtype.BF16, Dtype.F16, Dtype.BF16], KernelMask.Magnitude),
        ["gram_n3_o0.cu"] = KernelEmitter.EmitGram(3, [1, 2], 0, [Dtype.BF16, Dtype.BF16, Dtype.F16]),
        ["combine_n2_plain_f16.cu"] = KernelEmitter.EmitCombine(2, [1, 0], -1, [Dtype.BF16, Dtype.F32], Dtype.F16),
        ["nearswap_b1.cu"] = KernelEmitter.EmitNearswap(1, [Dtype.F16, Dtype.BF16], Dtype.BF16),
        ["combine_rows_n3_o0.cu"] = KernelEmitter.EmitCombine(3, [1, 2], 0, [Dtype.BF16, Dtype.BF16, Dtype.BF16], Dtype.BF16, rows: true),
        ["della_keep_n3_b1.cu"] = KernelEmitter.EmitDellaKeep(3, 1, [Dtype.BF16, Dtype.F32, Dtype.F16]),
        ["della_ties_n3_b0_norm.cu"] = KernelEmitter.EmitTaskArithmetic(3, 0, [Dtype.BF16, Dtype.BF16, Dtype.BF16], Dtype.BF16, KernelMask.Flags, signConsensus: true, normalize: true),
        ["della_norms_n3_b0.cu"] = KernelEmitter.EmitNorms(3, 0, [Dtype.BF16, Dtype.BF16, Dtype.BF16], KernelMask.Flags),
        ["magnitude_select_n3_b0.cu"] = KernelEmitter.EmitMagnitudeSelect(3, 0, [Dtype.BF16, Dtype.BF16, Dtype.F16]),
        ["sce_select_n3_b0.cu"] = KernelEmitter.EmitVarianceSelect(3, 0, [Dtype.BF16, Dtype.BF16, Dtype.F16]),
        ["sce_squares_n3_b1_select.cu"] = KernelEmitter.EmitSceSquares(3, 1, [Dtype.F32, Dtype.BF16, Dtype.F16], selected: true),
        ["sce_n3_b0_select.cu"] = KernelEmitter.EmitSce(3, 0, [Dtype.BF16, Dtype.BF16, Dtype.BF16], Dtype.BF16, selected: true),
        ["sce_n2_b1_f16.cu"] = KernelEmitter.EmitSce(2, 1, [Dtype.F16, Dtype.F32], Dtype.F16, selected: false),
        ["ram_n3_b0.cu"] = KernelEmitter.EmitRam(3, 0, [Dtype.BF16, Dtype.BF16, Dtype.F16], Dtype.BF16),
        ["ram_counts_n3_b2.cu"] = KernelEmitter.EmitRamCounts(3, 2, [Dtype.BF16, Dtype.F16, Dtype.BF16]),
        ["arcee_select_b1.cu"] = KernelEmitter.EmitImportanceSelect(1, [Dtype.F16, Dtype.BF16]),
        ["arcee_fusion_b0.cu"] = KernelEmitter.EmitArceeFusion(0, [Dtype.BF16, Dtype.BF16], Dtype.BF16),
    };

    [Theory]
    [MemberData(nameof(BaselineCases))]
    public void Source_matches_its_baseline(string baseline)
        => Baseline.AssertMatches(baseline, CollapseHeaders(Kernels()[baseline].Source));

    /// <summary>The baselines hold the generated part of a kernel; each inlined header becomes one marker line with its
    /// length (the inlining itself is checked exactly by <see cref="Inlined_headers_are_the_header_files_minus_includes"/>).</summary>
    private static string CollapseHeaders(string source)
    {
        var lines = source.Split('\n');
        var result = new List<string>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (!lines[i].StartsWith("// ==== kernels/", StringComparison.Ordinal)) { result.Add(lines[i]); continue; }
            int end = i + 1;
            while (end < lines.Length && !lines[end].StartsWith("// ==== ", StringComparison.Ordinal)) end++;
            result.Add(FormattableString.Invariant($"{lines[i]} ({end - i - 1} lines inlined)"));
            i = end - 1;
        }
        return string.Join('\n', result);
    }

    [Fact]
    public void Inlined_headers_are_the_header_files_minus_includes()
    {
        string inlined = KernelSources.Inline(["dtype.cuh", "philox.cuh"]);
        string expected = "";
        foreach (string header in new[] { "dtype.cuh", "philox.cuh" })
        {
            string[] kept = File.ReadAllText(Path.Combine(HostCompiler.KernelsFolder, header)).Replace("\r\n", "\n").TrimEnd('\n').Split('\n')
                .Where(l => l.Trim() != "#pragma once" && !l.Trim().StartsWith("#include \"", StringComparison.Ordinal)).ToArray();
            expected += $"// ==== kernels/{header} ====\n" + string.Join('\n', kept) + "\n\n";
        }
        Assert.Equal(expected, inlined);
        Assert.Contains("#include", File.ReadAllText(Path.Combine(HostCompiler.KernelsFolder, "philox.cuh")));
    }

    [SkippableTheory]
    [MemberData(nameof(BaselineCases))]
    public void Baseline_kernels_compile_as_cpp_through_the_shim(string baseline)
    {
        HostCompiler.SkipIfUnavailable();
        EmittedKernel kernel = Kernels()[baseline];
        Assert.True(File.Exists(HostCompiler.Build("kernel_driver.cpp", kernel.Source, kernel.EntryPoint)));
    }

    [Fact]
    public void Baseline_diff_names_the_first_differing_line()
    {
        string diff = Baseline.Diff("a\nb\nc\nd", "a\nb\nX\nd");
        Assert.Contains("first difference at line 3", diff);
        Assert.Contains("- c", diff);
        Assert.Contains("+ X", diff);
    }

    [Fact]
    public void Emission_is_deterministic_and_culture_independent()
    {
        string first = KernelEmitter.EmitTaskArithmetic(4, 2, [Dtype.BF16, Dtype.F16, Dtype.F32, Dtype.BF16], Dtype.BF16, true, true, true).Source;
        CultureInfo saved = CultureInfo.CurrentCulture;
        try
        {
            // the process runs with invariant globalization, so build a culture with fi-FI's hazards by hand
            var hostile = (CultureInfo)CultureInfo.InvariantCulture.Clone();
            hostile.NumberFormat.NumberDecimalSeparator = ",";
            hostile.NumberFormat.NegativeSign = "\u2212";
            hostile.NumberFormat.NumberGroupSeparator = "\u00a0";
            CultureInfo.CurrentCulture = hostile;
            string second = KernelEmitter.EmitTaskArithmetic(4, 2, [Dtype.BF16, Dtype.F16, Dtype.F32, Dtype.BF16], Dtype.BF16, true, true, true).Source;
            Assert.Equal(first, second);
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
        }
    }

    [Fact]
    public void Source_is_self_contained_and_inlines_every_header_it_needs()
    {
        EmittedKernel kernel = KernelEmitter.EmitTaskArithmetic(2, 0, [Dtype.BF16, Dtype.BF16], Dtype.BF16, dareMask: true);
        Assert.DoesNotContain("#include", kernel.Source);
        Assert.DoesNotContain("#pragma once", kernel.Source);
        foreach (string header in new[] { "dtype.cuh", "philox.cuh", "merge_ops.cuh" })
            Assert.Contains("// ==== kernels/" + header + " ====", kernel.Source);
        Assert.Contains($"extern \"C\" __global__ void __launch_bounds__(DM_BLOCK_SIZE) {kernel.EntryPoint}(const dm_params p)", kernel.Source);
        // no random stream in a kernel that does not draw
        Assert.DoesNotContain("philox", KernelEmitter.EmitLinear(1, [Dtype.F32], Dtype.F32).Source);
    }

    [Fact]
    public void Different_plans_give_different_entry_points()
    {
        var names = new[]
        {
            KernelEmitter.EmitLinear(2, [Dtype.BF16, Dtype.BF16], Dtype.BF16).EntryPoint,
            KernelEmitter.EmitTaskArithmetic(2, 0, [Dtype.BF16, Dtype.BF16], Dtype.BF16, dareMask: true, signConsensus: true).EntryPoint,
            KernelEmitter.EmitTaskArithmetic(2, 0, [Dtype.BF16, Dtype.BF16], Dtype.BF16, dareMask: true, signConsensus: true, normalize: true).EntryPoint,
            KernelEmitter.EmitDareNorms(2, 0, [Dtype.BF16, Dtype.BF16]).EntryPoint,
            KernelEmitter.EmitLinear(2, [Dtype.BF16, Dtype.F16], Dtype.BF16).EntryPoint,
            KernelEmitter.EmitLinear(2, [Dtype.BF16, Dtype.BF16], Dtype.F32).EntryPoint,
            KernelEmitter.EmitTaskArithmetic(2, 0, [Dtype.BF16, Dtype.BF16], Dtype.BF16).EntryPoint,
            KernelEmitter.EmitTaskArithmetic(2, 1, [Dtype.BF16, Dtype.BF16], Dtype.BF16).EntryPoint,
            KernelEmitter.EmitTaskArithmetic(2, 0, [Dtype.BF16, Dtype.BF16], Dtype.BF16, dareMask: true).EntryPoint,
            KernelEmitter.EmitTaskArithmetic(2, 0, [Dtype.BF16, Dtype.BF16], Dtype.BF16, KernelMask.Magnitude).EntryPoint,
            KernelEmitter.EmitTaskArithmetic(2, 0, [Dtype.BF16, Dtype.BF16], Dtype.BF16, KernelMask.Magnitude, signConsensus: true).EntryPoint,
            KernelEmitter.EmitMagnitudeSelect(2, 0, [Dtype.BF16, Dtype.BF16]).EntryPoint,
            KernelEmitter.EmitNorms(2, 0, [Dtype.BF16, Dtype.BF16], KernelMask.Magnitude).EntryPoint,
            KernelEmitter.EmitGram(2, [0, 1], -1, [Dtype.BF16, Dtype.BF16]).EntryPoint,
            KernelEmitter.EmitGram(3, [1, 2], 0, [Dtype.BF16, Dtype.BF16, Dtype.BF16]).EntryPoint,
            KernelEmitter.EmitCombine(2, [0, 1], -1, [Dtype.BF16, Dtype.BF16], Dtype.BF16).EntryPoint,
            KernelEmitter.EmitCombine(2, [1, 0], -1, [Dtype.BF16, Dtype.BF16], Dtype.BF16).EntryPoint,
        };
        Assert.Equal(names.Length, names.Distinct().Count());
    }

    [Fact]
    public void Parameter_layout_uses_natural_alignment()
    {
        EmittedKernel kernel = KernelEmitter.EmitTaskArithmetic(3, 0, [Dtype.F32, Dtype.F32, Dtype.F32], Dtype.F32, dareMask: true);
        KernelParameterLayout layout = kernel.Parameters;
        // in[3] @0, out @24, count @32, first @40, seed @48, weight[3] @56, lambda @80, divisor @88, density[3] @96,
        // scale[3] @120, name_hash @144 (then padding to a multiple of 8)
        Assert.Equal([0, 24, 32, 40, 48, 56, 80, 88, 96, 120, 144], layout.Fields.Select(f => f.Offset));
        Assert.Equal(152, layout.Size);
        KernelArguments args = kernel.CreateArguments().Set("weight", 2, 0.5).Set("in", 1, 0x1122334455667788UL).Set("name_hash", 7u);
        Assert.Equal(0.5, BitConverter.ToDouble(args.Bytes.Slice(72, 8)));
        Assert.Equal(0x1122334455667788UL, BitConverter.ToUInt64(args.Bytes.Slice(8, 8)));
        Assert.Equal(7u, BitConverter.ToUInt32(args.Bytes.Slice(144, 4)));
        Assert.Contains("double weight[3];", kernel.Source);
        Assert.Contains("// @56:", kernel.Source);
    }

    [Fact]
    public void Arguments_reject_wrong_types_and_indices()
    {
        KernelArguments args = KernelEmitter.EmitLinear(2, [Dtype.F32, Dtype.F32], Dtype.F32).CreateArguments();
        Assert.Throws<ArgumentException>(() => args.Set("weight", 0, 1UL));
        Assert.Throws<ArgumentException>(() => args.Set("weight", 0, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => args.Set("weight", 2, 1.0));
        Assert.Throws<KeyNotFoundException>(() => args.Set("seed", 1UL));
    }

    [Fact]
    public void Invalid_plans_are_rejected()
    {
        Assert.Throws<NotSupportedException>(() => KernelEmitter.EmitLinear(1, [Dtype.I32], Dtype.F32));
        Assert.Throws<NotSupportedException>(() => KernelEmitter.EmitLinear(1, [Dtype.F32], Dtype.F64));
        Assert.Throws<ArgumentException>(() => KernelEmitter.EmitLinear(2, [Dtype.F32], Dtype.F32));
        Assert.Throws<ArgumentOutOfRangeException>(() => KernelEmitter.EmitTaskArithmetic(1, 0, [Dtype.F32], Dtype.F32));
        Assert.Throws<ArgumentOutOfRangeException>(() => KernelEmitter.EmitTaskArithmetic(2, 2, [Dtype.F32, Dtype.F32], Dtype.F32));
        Assert.Throws<ArgumentException>(() => KernelEmitter.EmitTaskArithmetic(2, 0, [Dtype.F32, Dtype.F32], Dtype.F32, normalize: true));
    }

    [Fact]
    public void Embedded_headers_are_the_files_in_kernels()
    {
        foreach (string header in KernelSources.Headers)
            Assert.Equal(File.ReadAllText(Path.Combine(HostCompiler.KernelsFolder, header)).Replace("\r\n", "\n"), KernelSources.Read(header));
    }
}
