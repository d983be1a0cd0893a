using DotnetMerge.Cuda;

namespace DotnetMerge.Tool.Tests;

/// <summary><c>--device</c> and <c>doctor</c>. These run anywhere: without CUDA (CI, this machine) they check the CPU
/// fallback, the exit code 4 of an explicit <c>--device cuda</c> and the probe trace; with CUDA, the GPU branch.</summary>
public sealed class DeviceTests : IDisposable
{
    private static readonly Lazy<CudaProbeResult> Probe = new(CudaProbe.Run);
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private async Task<string> LinearConfigAsync()
    {
        await _ws.BaseAsync(TestWorkspace.SmallSpec, "a");
        await _ws.FineTuneAsync("b", "mlp", 0, TestWorkspace.SmallSpec);
        return _ws.Write("linear.yaml", """
            merge_method: linear
            models:
              - model: models/a
                parameters: {weight: 0.75}
              - model: models/b
                parameters: {weight: 0.25}
            dtype: bfloat16
            """);
    }

    [Fact]
    public async Task Auto_uses_the_gpu_or_says_at_detailed_verbosity_why_it_used_the_cpu()
    {
        string config = await LinearConfigAsync();
        var detailed = await CliRunner.RunAsync(config, _ws.PathOf("out1"), "--no-progress", "-v", "detailed");
        Assert.True(detailed.ExitCode == 0, detailed.ToString());
        var normal = await CliRunner.RunAsync(config, _ws.PathOf("out2"), "--no-progress");
        Assert.True(normal.ExitCode == 0, normal.ToString());
        if (Probe.Value.IsSupported)
        {
            Assert.Contains("device: cuda:0 ", normal.Out);
        }
        else
        {
            Assert.Contains("device: cpu (CUDA not available: " + Probe.Value.NotSupportedReason + ")", detailed.Out);
            Assert.DoesNotContain("device:", normal.Out);
        }
        // whichever device ran it, the bytes are the same as an explicit CPU run
        var cpu = await CliRunner.RunAsync(config, _ws.PathOf("out3"), "--no-progress", "--device", "cpu");
        Assert.True(cpu.ExitCode == 0, cpu.ToString());
        foreach (string tensor in new[] { "model.layers.0.mlp.up_proj.weight", "model.embed_tokens.weight" })
            Assert.Equal(TestWorkspace.ReadRaw(_ws.PathOf("out3"), tensor).Bytes, TestWorkspace.ReadRaw(_ws.PathOf("out2"), tensor).Bytes);
    }

    [Fact]
    public async Task Explicit_cuda_without_a_device_fails_with_exit_code_4_and_the_probe_trace()
    {
        string config = await LinearConfigAsync();
        var result = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--no-progress", "--device", Probe.Value.IsSupported ? "cuda:99" : "cuda");
        Assert.True(result.ExitCode == ExitCodes.DeviceUnavailable, result.ToString());
        Assert.Contains("CUDA is not available", result.Err);
        Assert.Contains("libcuda", result.Err); // the trace: every library tried
        Assert.False(Directory.Exists(_ws.PathOf("out")) && Directory.EnumerateFileSystemEntries(_ws.PathOf("out")).Any());
    }

    [Theory]
    [InlineData("gpu0")]
    [InlineData("cuda:x")]
    [InlineData("cuda:-1")]
    public async Task Unknown_devices_are_command_line_errors(string device)
    {
        string config = await LinearConfigAsync();
        var result = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--no-progress", "--device", device);
        Assert.True(result.ExitCode == ExitCodes.InvalidDefinition, result.ToString());
        Assert.Contains("--device", result.Err);
    }

    [Fact]
    public async Task Doctor_reports_the_probe_and_exits_0()
    {
        var result = await CliRunner.RunAsync("doctor");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("kernel cache:", result.Out);
        Assert.Contains("driver:", result.Out);
        Assert.Contains("nvrtc:", result.Out);
        Assert.Contains("libcuda", result.Out);
        if (Probe.Value.IsSupported)
            Assert.Contains("test kernel: ok", result.Out);
        else
        {
            Assert.Contains("CUDA: not supported: " + Probe.Value.NotSupportedReason, result.Out);
            Assert.Contains("test kernel: not attempted", result.Out);
        }
    }
}
