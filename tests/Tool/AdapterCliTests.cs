using DotnetMerge.Tests.Adapters;
using static DotnetMerge.Tests.Adapters.AdapterFixture;

namespace DotnetMerge.Tool.Tests;

/// <summary>LoRA adapters through the command line: a merge of the base with an adapted model (both reference forms),
/// check, plan and inspect of <c>base+adapter</c>, and the exit codes of adapters that do not fit.</summary>
public sealed class AdapterCliTests : IDisposable
{
    private readonly AdapterFixture _fx = new();

    public void Dispose() => _fx.Dispose();

    private const string Q = "model.layers.0.self_attn.q_proj";
    private const int R = 2;
    private static readonly double[] A = Values(R * Hidden, 41, 0.25);
    private static readonly double[] B = Values(Hidden * R, 42, 0.25);

    private async Task Models(string baseModelName = "org/tiny-base", long aColumns = Hidden)
    {
        await _fx.BaseAsync();
        var config = new Dictionary<string, object?>
        {
            ["peft_type"] = "LORA", ["r"] = R, ["lora_alpha"] = 4, ["target_modules"] = new[] { "q_proj" },
            ["base_model_name_or_path"] = baseModelName,
        };
        await _fx.AdapterAsync("lora", config,
            [($"{Q}.lora_A.weight", [R, aColumns], Values(R * aColumns, 41, 0.25)), ($"{Q}.lora_B.weight", [Hidden, R], B)]);
    }

    private string Config(string adapted) => Write("m.yaml",
        $"merge_method: linear\nmodels:\n  - model: base\n    parameters: {{weight: 0.5}}\n  - model: {adapted}\n    parameters: {{weight: 0.5}}\n");

    private string Write(string name, string text)
    {
        var path = _fx.PathOf(name);
        File.WriteAllText(path, text);
        return path;
    }

    [Theory]
    [InlineData("base+lora")]
    [InlineData("{model: base, lora: lora}")]
    public async Task AMergeOfTheBaseAndAnAdaptedModel_AddsHalfTheDelta(string adapted)
    {
        await Models();
        var output = _fx.PathOf("out");
        var result = await CliRunner.RunAsync(Config(adapted), output, "--no-progress");
        Assert.True(result.ExitCode == 0, result.ToString());

        // 0.5 · W + 0.5 · (W + 2 · B·A) = W + B·A (scale alpha / r = 2), in float64, then compared within float32 rounding.
        var w = BaseValues(Q + ".weight");
        var written = TestWorkspace.ReadTensor(output, Q + ".weight");
        for (int o = 0; o < Hidden; o++)
            for (int i = 0; i < Hidden; i++)
            {
                double d = 0;
                for (int k = 0; k < R; k++) d += B[o * R + k] * A[k * Hidden + i];
                double expected = w[o * Hidden + i] + d;
                Assert.True(Math.Abs(written[o * Hidden + i] - expected) <= Math.Abs(expected) / (1 << 24) + 1e-30, $"[{o},{i}] {written[o * Hidden + i]} vs {expected}");
            }
        Assert.Equal(BaseValues("model.layers.0.mlp.up_proj.weight"), TestWorkspace.ReadTensor(output, "model.layers.0.mlp.up_proj.weight"));
        // No merged copy of the adapted model was written anywhere beside the inputs and the output.
        Assert.Equal(["base", "lora", "m.yaml", "out"], Directory.EnumerateFileSystemEntries(_fx.Root).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task PlanAndInspect_ShowTheBasePlusTheAdapter_AndWhichTensorsItChanges()
    {
        await Models();
        var plan = await CliRunner.RunAsync("plan", Config("base+lora"));
        Assert.True(plan.ExitCode == 0, plan.ToString());
        Assert.Contains("base + lora", plan.Out);
        Assert.Matches($@"base \+ lora: {System.Text.RegularExpressions.Regex.Escape(Q)}\.weight F32 \[4, 4\]  \+ LoRA r=2 scale=2", plan.Out);
        Assert.Contains("adapter base + lora: 1 tensors changed in the read stage", plan.Out);
        Assert.Contains($"delta FLOPs: {2 * Hidden * Hidden * R}", plan.Out);

        var inspect = await CliRunner.RunAsync("inspect", _fx.PathOf("base") + "+" + _fx.PathOf("lora"));
        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        Assert.Contains(_fx.PathOf("base") + " + " + _fx.PathOf("lora"), inspect.Out);
        var qLine = inspect.Out.Split('\n').Single(l => l.Contains(Q + ".weight", StringComparison.Ordinal));
        Assert.Contains("+ LoRA r=2 scale=2", qLine);
        var upLine = inspect.Out.Split('\n').Single(l => l.Contains("up_proj.weight", StringComparison.Ordinal));
        Assert.DoesNotContain("LoRA", upLine);
    }

    [Fact]
    public async Task Check_RefusesAnAdapterWhoseShapesDoNotFit_WithExitCode3_AndTheFileNamed()
    {
        await Models(aColumns: 5);
        var result = await CliRunner.RunAsync("check", Config("base+lora"));
        Assert.Equal(ExitCodes.InvalidInput, result.ExitCode);
        Assert.Contains("DMRG0712", result.Err);
        Assert.Contains(Path.Combine(_fx.PathOf("lora"), "adapter_model.safetensors"), result.Err);
        Assert.Contains(Q, result.Err);
    }

    [Fact]
    public async Task Check_RefusesAnAdapterForAnotherBase_UnlessCrimesAreAllowed()
    {
        await Models(baseModelName: "org/another-model");
        var strict = await CliRunner.RunAsync("check", Config("base+lora"));
        Assert.Equal(ExitCodes.InvalidInput, strict.ExitCode);
        Assert.Contains("error DMRG0704", strict.Err);
        Assert.Contains("org/another-model", strict.Err);

        var lenient = await CliRunner.RunAsync("check", Config("base+lora"), "--allow-crimes");
        Assert.True(lenient.ExitCode == 0, lenient.ToString());
        Assert.Contains("warning DMRG0704", lenient.Err);
    }

    [Fact]
    public async Task AMissingAdapterDirectory_IsExitCode3_AtTheReference()
    {
        await Models();
        var result = await CliRunner.RunAsync("check", Config("base+nope"));
        Assert.Equal(ExitCodes.InvalidInput, result.ExitCode);
        Assert.Matches(@"m\.yaml\(5,\d+\): error DMRG0701: .*LoRA adapter not found", result.Err);
    }

    private string Adapted => _fx.PathOf("base") + "+" + _fx.PathOf("lora");

    /// <summary>W + (2·B·A)·<paramref name="fraction"/> for q_proj in float64 (scale alpha / r = 2).</summary>
    private static double[] AdaptedQ(double fraction)
    {
        var w = BaseValues(Q + ".weight");
        var expected = new double[Hidden * Hidden];
        for (int o = 0; o < Hidden; o++)
            for (int i = 0; i < Hidden; i++)
            {
                double d = 0;
                for (int k = 0; k < R; k++) d += B[o * R + k] * A[k * Hidden + i];
                expected[o * Hidden + i] = w[o * Hidden + i] + fraction * 2 * d;
            }
        return expected;
    }

    private static void AssertWithinFloat32(double[] expected, double[] written, double absolute = 1e-30)
    {
        Assert.Equal(expected.Length, written.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(written[i] - expected[i]) <= Math.Abs(expected[i]) / (1 << 23) + absolute, $"[{i}] {written[i]} vs {expected[i]}");
    }

    [Fact]
    public async Task AUniformSoupOfTheBaseAndAnAdaptedModel_IsTheirAverage_WithNoAdaptedCopyWritten()
    {
        await Models();
        var output = _fx.PathOf("soup");
        var result = await CliRunner.RunAsync("soup", _fx.PathOf("base"), Adapted, "-o", output, "--no-progress");
        Assert.True(result.ExitCode == 0, result.ToString());
        AssertWithinFloat32(AdaptedQ(0.5), TestWorkspace.ReadTensor(output, Q + ".weight"));
        Assert.Equal(BaseValues("model.layers.0.mlp.up_proj.weight"), TestWorkspace.ReadTensor(output, "model.layers.0.mlp.up_proj.weight"));
        Assert.Equal(["base", "lora", "soup"], Directory.EnumerateFileSystemEntries(_fx.Root).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [SkippableFact]
    public async Task AGreedySoupScoresAnAdaptedIngredient_OnAModelDirectoryThatHoldsTheAdaptedWeights_ThenRemovesIt()
    {
        Skip.If(OperatingSystem.IsWindows(), "the evaluator script is POSIX sh");
        await Models();
        // The evaluator records the q_proj bytes it was shown and prints a score: the adapted ingredient scores highest,
        // so the soup starts from it, and the plain base (a tie is kept) joins it.
        var seen = _fx.PathOf("seen");
        Directory.CreateDirectory(seen);
        var script = Write("eval.sh", $"test -f \"$1/config.json\" || exit 9\nn=$(ls '{seen}' | wc -l)\ncp \"$1/model.safetensors\" '{seen}'/$n.safetensors\n" +
                                      "echo 0.5\n");
        var output = _fx.PathOf("soup");
        var result = await CliRunner.RunAsync("soup", Adapted, _fx.PathOf("base"), "--eval", $"sh '{script}' {{model}}", "-o", output, "--no-progress");
        Assert.True(result.ExitCode == 0, result.ToString());
        // Call 0 scored the adapted ingredient: exactly the adapted tensor (a one-model linear merge rounds nothing).
        var first = Path.Combine(seen, "0.safetensors");
        var scoredDir = _fx.PathOf("scored0");
        Directory.CreateDirectory(scoredDir);
        File.Copy(first, Path.Combine(scoredDir, "model.safetensors"));
        AssertWithinFloat32(AdaptedQ(1), TestWorkspace.ReadTensor(scoredDir, Q + ".weight"));
        AssertWithinFloat32(AdaptedQ(0.5), TestWorkspace.ReadTensor(output, Q + ".weight"));
        // The scratch copy for the evaluation is gone: only the inputs, the test's own files and the soup remain.
        Assert.Equal(["base", "eval.sh", "lora", "scored0", "seen", "soup"], Directory.EnumerateFileSystemEntries(_fx.Root).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task ExtractOfAnAdaptedModel_IsTheScaledLoraDelta_AndApplyingItNegatedToTheAdaptedModel_GivesTheBaseBack()
    {
        await Models();
        var tv = _fx.PathOf("tv");
        var extract = await CliRunner.RunAsync("extract", "--base", _fx.PathOf("base"), "--model", Adapted, "-o", tv, "--no-progress");
        Assert.True(extract.ExitCode == 0, extract.ToString());
        var w = BaseValues(Q + ".weight");
        var delta = AdaptedQ(1).Select((v, i) => v - w[i]).ToArray();
        AssertWithinFloat32(delta, TestWorkspace.ReadTensor(tv, Q + ".weight"), absolute: 1e-6);
        Assert.All(TestWorkspace.ReadTensor(tv, "model.layers.0.mlp.up_proj.weight"), v => Assert.Equal(0.0, v));

        var back = _fx.PathOf("back");
        var apply = await CliRunner.RunAsync("apply", "--base", Adapted, tv + ":-1", "-o", back, "--force-base", "--no-progress");
        Assert.True(apply.ExitCode == 0, apply.ToString());
        AssertWithinFloat32(w, TestWorkspace.ReadTensor(back, Q + ".weight"), absolute: 1e-6);
    }

    [Fact]
    public async Task CheckScan_ReadsAdaptedTensorsAsTheMergeSeesThem_AndReportsANaNTheAdapterBrings()
    {
        await _fx.BaseAsync();
        var poisoned = (double[])B.Clone();
        poisoned[3] = double.NaN;
        await _fx.AdapterAsync("lora", new Dictionary<string, object?> { ["peft_type"] = "LORA", ["r"] = R, ["lora_alpha"] = 4, ["target_modules"] = new[] { "q_proj" } },
            [($"{Q}.lora_A.weight", [R, Hidden], A), ($"{Q}.lora_B.weight", [Hidden, R], poisoned)]);
        var definition = Config("base+lora");
        var plain = await CliRunner.RunAsync("check", definition);
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.DoesNotContain("DMRG0720", plain.Err);
        var scanned = await CliRunner.RunAsync("check", definition, "--scan");
        Assert.True(scanned.ExitCode == 0, scanned.ToString());
        var line = Assert.Single(scanned.Err.Split('\n'), l => l.Contains("DMRG0720"));
        // Row 1 of B·A is NaN: Hidden NaN values in the adapted tensor, none in the base's stored one.
        Assert.Contains($"model 'base + lora': tensor '{Q}.weight' (with the adapter's delta applied) holds {Hidden} NaN and 0 infinite values", line);
    }
}
