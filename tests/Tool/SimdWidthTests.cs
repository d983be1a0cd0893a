using System.Diagnostics;
using System.Runtime.Intrinsics;
using DotnetMerge.Demo;
using DotnetMerge.Tool.Hosting;

namespace DotnetMerge.Tool.Tests;

/// <summary>The CPU kernels give the same bytes at every SIMD width, and the tool relaunches itself with 512-bit
/// Vector&lt;T&gt; where the CPU has AVX-512 (Hosting/SimdRelaunch.cs).</summary>
public sealed class SimdWidthTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private static Func<string, string?> Env(params (string Name, string Value)[] set)
        => name => set.FirstOrDefault(s => s.Name == name).Value;

    [Fact]
    public void Relaunches_only_for_tensor_math_on_avx512_with_nothing_set()
    {
        Assert.True(SimdRelaunch.ShouldRelaunch(["config.yaml", "out"], Env(), vector512: true, vectorBytes: 32));
        Assert.True(SimdRelaunch.ShouldRelaunch(["demo"], Env(), true, 32));
        Assert.False(SimdRelaunch.ShouldRelaunch(["config.yaml", "out"], Env(), vector512: false, vectorBytes: 32));
        Assert.False(SimdRelaunch.ShouldRelaunch(["config.yaml", "out"], Env(), true, vectorBytes: 64));
        Assert.False(SimdRelaunch.ShouldRelaunch(["config.yaml", "out"], Env((SimdRelaunch.WidthVariable, "256")), true, 32));
        Assert.False(SimdRelaunch.ShouldRelaunch(["config.yaml", "out"], Env((SimdRelaunch.OptOutVariable, "0")), true, 32));
        Assert.True(SimdRelaunch.ShouldRelaunch(["config.yaml", "out"], Env((SimdRelaunch.OptOutVariable, "1")), true, 32));
        foreach (var noMath in new[] { "check", "plan", "inspect", "doctor", "--help", "--version" })
            Assert.False(SimdRelaunch.ShouldRelaunch([noMath, "x"], Env(), true, 32), noMath);
        Assert.False(SimdRelaunch.ShouldRelaunch([], Env(), true, 32));
    }

    [Theory]
    [InlineData("dare_ties", "parameters: {normalize: true}\nseed: 11\n")]
    [InlineData("ties", "parameters: {normalize: true}\n")]
    [InlineData("slerp", "parameters: {t: 0.3}\n")]
    [InlineData("model_stock", "")]
    public async Task Merges_are_byte_identical_at_128_256_and_512_bit_vectors(string method, string extra)
    {
        var spec = new LlamaSpec(Layers: 2, Hidden: 160, Intermediate: 352, Vocab: 200, Heads: 4, KvHeads: 2);
        await _ws.BaseAsync(spec, "base");
        await _ws.FineTuneAsync("ft1", "", 0, spec);
        await _ws.FineTuneAsync("ft2", "mlp", 0, spec);
        string models = method switch
        {
            "slerp" => "  - model: models/base\n  - model: models/ft1\n",
            "model_stock" => "  - model: models/base\n  - model: models/ft1\n  - model: models/ft2\n",
            _ => "  - model: models/ft1\n    parameters: {weight: 0.6, density: 0.4}\n  - model: models/ft2\n    parameters: {weight: 0.5, density: 0.7}\n",
        };
        string config = _ws.Write($"{method}.yaml", $"merge_method: {method}\nbase_model: models/base\nmodels:\n{models}{extra}dtype: bfloat16\n");

        var outputs = new List<string>();
        foreach (string width in new[] { "128", "256", null! })
        {
            string output = _ws.PathOf($"out-{width ?? "auto"}");
            var run = RunTool(width, config, output, "--no-progress", "-v", "detailed", "-j", "2");
            Assert.True(run.ExitCode == 0, run.ToString());
            string expected = width is null
                ? (Vector512.IsHardwareAccelerated ? "Vector<T> 512-bit" : "Vector<T>")
                : $"Vector<T> {width}-bit";
            Assert.Contains(expected, run.Out + run.Err);
            outputs.Add(output);
        }
        var files = Directory.GetFiles(outputs[0], "*.safetensors").Select(Path.GetFileName).Order().ToArray();
        Assert.NotEmpty(files);
        foreach (string other in outputs.Skip(1))
            foreach (string? file in files)
                Assert.True(File.ReadAllBytes(Path.Combine(outputs[0], file!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(other, file!))),
                    $"{method}: {file} differs between {outputs[0]} and {other}");
    }

    [SkippableTheory]
    [InlineData(0)]
    [InlineData(1500)]
    public async Task A_sigint_to_the_launcher_cancels_the_relaunched_child_and_writes_nothing(int delayMs)
    {
        Skip.If(OperatingSystem.IsWindows(), "POSIX signals: Windows delivers Ctrl+C to every process of the console");
        await _ws.BaseAsync(name: "base");
        await _ws.FineTuneAsync("ft1", "", 0);
        await _ws.FineTuneAsync("ft2", "mlp", 0);
        string output = _ws.PathOf("soup");
        // A greedy soup waits on its evaluator: a deterministic moment to interrupt (the evaluator never answers).
        var start = StartTool(null, "soup", _ws.PathOf("models", "ft1"), _ws.PathOf("models", "ft2"), "--greedy",
            "--eval", "sleep 60 # {model}", "-o", output, "--no-progress");
        using var process = Process.Start(start)!;
        // every read is bounded: a tool that never prints the line, or never exits after the signal, fails the test
        // (and is killed with its children below) instead of hanging the run
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(limit.Token);
            string? line;
            try
            {
                while ((line = await process.StandardError.ReadLineAsync(limit.Token)) is not null && !line.Contains("scoring ingredient")) { }
            }
            catch (OperationCanceledException) { throw new TimeoutException("the soup did not start scoring within 2 minutes"); }
            Assert.NotNull(line);
            // At once (the evaluator may not have started: the signal lands in the action's synchronous start, which
            // System.CommandLine's own handler did not cover) or once the evaluator runs.
            await Task.Delay(delayMs);
            using (var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
            using var afterSignal = CancellationTokenSource.CreateLinkedTokenSource(limit.Token);
            afterSignal.CancelAfter(TimeSpan.FromSeconds(30));
            string rest;
            try
            {
                rest = await process.StandardError.ReadToEndAsync(afterSignal.Token);
                await process.WaitForExitAsync(afterSignal.Token);
                rest += await stdout;
            }
            catch (OperationCanceledException) { throw new TimeoutException("the tool did not stop within 30 s of SIGINT"); }
            Assert.Equal(130, process.ExitCode);
            Assert.Contains("cancelled; nothing was written", rest);
            Assert.False(Directory.Exists(output));
        }
        finally
        {
            try { if (!process.HasExited) process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } // exited meanwhile
        }
    }

    private ProcessStartInfo StartTool(string? vectorWidth, params string[] args) => ToolProcess.StartInfo(_ws.Root, null, args, vectorWidth);

    private CliRunner.Result RunTool(string? vectorWidth, params string[] args) => ToolProcess.Run(StartTool(vectorWidth, args));
}
