using DotnetMerge.Engine;
using DotnetMerge.Execution;
using DotnetMerge.Kernels;
using DotnetMerge.Numerics;
using DotnetMerge.Planning;

namespace DotnetMerge.Tool.Tests.Reliability;

/// <summary>What the engine reports for inputs it cannot or should not merge (issue 14: items 7, 8, 12).</summary>
public sealed class EngineErrorTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private const string Up = "model.layers.0.mlp.up_proj.weight";

    private static float[] Values(int n, float scale, float offset) => Enumerable.Range(0, n).Select(i => offset + scale * MathF.Sin(i + 1)).ToArray();

    private async Task TwoModelsAsync(Func<string, (string, Dtype, long[], byte[])[]> tensors)
    {
        foreach (var name in new[] { "a", "b" }) await MergeFixture.WriteModelAsync(_ws.PathOf(name), tensors(name));
    }

    [Theory]
    [InlineData("slerp", "base_model: a\nmodels:\n  - model: a\n  - model: b\nparameters: {t: 0.5}\n")]
    [InlineData("karcher", "models:\n  - model: a\n  - model: b\n")]
    public async Task A_zero_row_tensor_merges_to_an_empty_tensor(string method, string rest)
    {
        await TwoModelsAsync(n => [
            (Up, Dtype.F32, [4, 4], MergeFixture.F32(Values(16, 0.5f, n == "a" ? 1 : 2))),
            ("lm_head.weight", Dtype.F32, [0, 4], []),
        ]);
        string config = _ws.Write($"{method}.yaml", $"merge_method: {method}\n{rest}");
        var run = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--no-progress");
        Assert.True(run.ExitCode == 0, run.ToString());
        var (dtype, shape, bytes) = TestWorkspace.ReadRaw(_ws.PathOf("out"), "lm_head.weight");
        Assert.Equal(Dtype.F32, dtype);
        Assert.Equal([0L, 4L], shape);
        Assert.Empty(bytes);
    }

    /// <summary>A backend whose math fails the way a bug does.</summary>
    private sealed class BuggyBackend : IMergeBackend
    {
        public string Name => "buggy";
        public bool Supports(MergePlan plan, TensorJob job) => true;
        public void Merge(MergePlan plan, TensorJob job, TensorMergeContext context) => throw new IndexOutOfRangeException("Index was outside the bounds of the array.");
        public void Dispose() { }
    }

    [Fact]
    public async Task A_bug_in_the_math_is_exit_code_1_with_the_stack_not_an_input_error()
    {
        using var fixture = await MergeFixture.CreateAsync();
        string output = fixture.Workspace.PathOf("out");
        var run = await fixture.RunAsync(output, new MergeOptions { Backend = new BuggyBackend() });
        Assert.True(run.ExitCode == ExitCodes.Unexpected, run.ToString());
        Assert.Contains("task_arithmetic failed on tensor", run.Err);
        Assert.Contains("IndexOutOfRangeException", run.Err);
        Assert.Contains(nameof(BuggyBackend), run.Err); // the stack (the fixture runs at -v diag)
        MergeFixture.AssertNothingWritten(output, "buggy backend");
    }

    [Fact]
    public async Task Infinities_made_from_finite_inputs_are_an_error_and_nothing_is_written()
    {
        await TwoModelsAsync(n => [(Up, Dtype.F32, [4, 4], MergeFixture.F32(Values(16, 0.25f, 1)))]);
        // 3e38 * (values near 1) twice overflows float32 (max 3.4e38): every element is infinite.
        string config = _ws.Write("big.yaml",
            "merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 3.0e38}\n  - model: b\n    parameters: {weight: 3.0e38}\n" +
            "parameters: {normalize: false}\ndtype: float32\n");
        var run = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--no-progress");
        Assert.True(run.ExitCode == ExitCodes.InvalidInput, run.ToString());
        Assert.Contains($"NaN or infinite values in tensor '{Up}' (16 of 16 values", run.Err);
        Assert.Contains("from finite inputs", run.Err);
        MergeFixture.AssertNothingWritten(_ws.PathOf("out"), "overflow");
    }

    [Fact]
    public async Task Non_finite_values_carried_from_the_inputs_are_counted_in_a_warning()
    {
        var a = Values(16, 0.25f, 1);
        a[3] = float.NaN; a[9] = float.PositiveInfinity;
        await TwoModelsAsync(n => [(Up, Dtype.F32, [4, 4], MergeFixture.F32(n == "a" ? a : Values(16, 0.25f, 2)))]);
        string config = _ws.Write("nan.yaml",
            "merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 0.5}\n  - model: b\n    parameters: {weight: 0.5}\ndtype: float32\n");
        var run = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--no-progress");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"tensor '{Up}': 2 of 16 values of the merged output are NaN or infinite; its inputs hold 2 such values", run.Err);
        var merged = TestWorkspace.ReadTensor(_ws.PathOf("out"), Up);
        Assert.Equal(2, merged.Count(v => !double.IsFinite(v)));
    }

    [Fact]
    public async Task Check_refuses_a_tensor_that_is_integer_in_one_model_and_float_in_another_and_the_run_does_not_hang()
    {
        await TwoModelsAsync(n => Enumerable.Range(0, 30)
            .Select(i => ($"model.layers.{i}.mlp.up_proj.weight", n == "b" && i == 20 ? Dtype.I32 : Dtype.F32, new long[] { 4, 4 },
                n == "b" && i == 20 ? Enumerable.Range(0, 16).SelectMany(BitConverter.GetBytes).ToArray() : MergeFixture.F32(Values(16, 0.1f, 1))))
            .ToArray());
        string config = _ws.Write("mixed.yaml", "merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 1}\n");
        var check = await CliRunner.RunAsync("check", config);
        Assert.True(check.ExitCode == ExitCodes.InvalidInput, check.ToString());
        Assert.Contains("DMRG0709", check.Err);
        Assert.Contains("tensor 'model.layers.20.mlp.up_proj.weight' is I32 in model 'b' but F32 in 'a'", check.Err);
        var run = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--no-progress").WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(run.ExitCode == ExitCodes.InvalidInput, run.ToString());
        Assert.Contains("DMRG0709", run.Err);
    }

    [Fact]
    public async Task Integer_tensors_in_every_model_are_carried_over_from_the_template()
    {
        var ids = Enumerable.Range(0, 8).SelectMany(i => BitConverter.GetBytes(i * 3)).ToArray();
        await TwoModelsAsync(n => [
            (Up, Dtype.F32, [4, 4], MergeFixture.F32(Values(16, 0.1f, n == "a" ? 1 : 3))),
            ("model.position_ids", Dtype.I32, [8], n == "a" ? ids : new byte[32]),
        ]);
        string config = _ws.Write("ints.yaml", "merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 1}\n");
        Assert.Equal(0, (await CliRunner.RunAsync("check", config)).ExitCode);
        var run = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--no-progress");
        Assert.True(run.ExitCode == 0, run.ToString());
        var (dtype, _, bytes) = TestWorkspace.ReadRaw(_ws.PathOf("out"), "model.position_ids");
        Assert.Equal(Dtype.I32, dtype);
        Assert.Equal(ids, bytes);
    }
}
