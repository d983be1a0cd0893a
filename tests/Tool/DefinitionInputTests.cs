using System.Diagnostics;
using DotnetMerge.Definitions;

namespace DotnetMerge.Tool.Tests;

/// <summary>Definition paths that are not small regular files (issue 14 item 2): refused at once with exit 2, never
/// read without end or blocked on; and a cancelled run stops while it reads the definition.</summary>
public sealed class DefinitionInputTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private static async Task<CliRunner.Result> Within(Task<CliRunner.Result> run)
    {
        var finished = await Task.WhenAny(run, Task.Delay(Bound));
        Assert.True(finished == run, "the command did not finish: it blocks or reads without end");
        return await run;
    }

    [Theory]
    [InlineData("/dev/zero", "is a character device")]
    [InlineData("/dev/urandom", "is a character device")]
    public async Task A_device_is_refused_without_being_read(string device, string kind)
    {
        if (!File.Exists(device)) return; // not a Unix-like system: nothing to stage
        var r = await Within(CliRunner.RunAsync("check", device));
        Assert.Equal(ExitCodes.InvalidDefinition, r.ExitCode);
        Assert.Contains("DMRG0020", r.Err);
        Assert.Contains(kind, r.Err);
    }

    [Fact]
    public async Task A_fifo_is_refused_without_blocking()
    {
        if (!OperatingSystem.IsLinux()) return; // mkfifo and statx: Linux
        var fifo = _ws.PathOf("definition.fifo");
        using (var mk = Process.Start("mkfifo", [fifo])) mk.WaitForExit();
        Assert.True(File.Exists(fifo));
        var r = await Within(CliRunner.RunAsync("check", fifo));
        Assert.Equal(ExitCodes.InvalidDefinition, r.ExitCode);
        Assert.Contains("named pipe", r.Err);
    }

    [Fact]
    public async Task A_directory_or_a_looping_link_says_what_it_is()
    {
        Directory.CreateDirectory(_ws.PathOf("adir"));
        var r = await CliRunner.RunAsync("check", _ws.PathOf("adir"));
        Assert.Equal(ExitCodes.InvalidDefinition, r.ExitCode);
        Assert.Contains("is a directory", r.Err);

        File.CreateSymbolicLink(_ws.PathOf("loop-a.yaml"), _ws.PathOf("loop-b.yaml"));
        File.CreateSymbolicLink(_ws.PathOf("loop-b.yaml"), _ws.PathOf("loop-a.yaml"));
        r = await CliRunner.RunAsync("check", _ws.PathOf("loop-a.yaml"));
        Assert.Equal(ExitCodes.InvalidDefinition, r.ExitCode);
        Assert.Contains("loops", r.Err);
    }

    [Fact]
    public async Task A_file_over_the_size_limit_is_refused_naming_the_limit()
    {
        var path = _ws.Write("big.yaml", "merge_method: linear\n" + new string('#', DefinitionLimits.MaxLength) + "\n");
        var r = await Within(CliRunner.RunAsync("check", path));
        Assert.Equal(ExitCodes.InvalidDefinition, r.ExitCode);
        Assert.Contains("over the limit of 4 MiB", r.Err);
    }

    [Fact]
    public async Task A_cancelled_check_stops_at_the_definition()
    {
        // Before: reading and parsing never looked at the token; the check went on to the models (exit 3 here).
        var path = _ws.Write("merge.yaml", "merge_method: linear\nmodels:\n  - model: ./nowhere\n    parameters: {weight: 1}\n");
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var r = await CliRunner.RunAsync(cts.Token, "check", path);
        Assert.Equal(ExitCodes.Cancelled, r.ExitCode);
        Assert.Contains(Cli.CancelledMessage, r.Err);
    }
    [Fact]
    public async Task Check_scan_counts_nan_and_infinite_values_once_per_input_tensor()
    {
        var a = await _ws.FineTuneAsync("a", "mlp", 0);
        var b = await _ws.FineTuneAsync("b", "self_attn", 0);
        const string poisoned = "model.layers.1.mlp.up_proj.weight";
        long elements;
        using (var checkpoint = DotnetMerge.Safetensors.ModelCheckpoint.Open(b))
        {
            Assert.True(checkpoint.TryGetTensor(poisoned, out var info, out var file));
            elements = info.ElementCount;
            var (width, values) = info.Dtype switch
            {
                DotnetMerge.Numerics.Dtype.BF16 => (2, new ulong[] { 0x7FC0, 0x7F80, 0xFF80 }), // NaN, +inf, -inf
                DotnetMerge.Numerics.Dtype.F16 => (2, new ulong[] { 0x7E00, 0x7C00, 0xFC00 }),
                DotnetMerge.Numerics.Dtype.F32 => (4, new ulong[] { 0x7FC0_0000, 0x7F80_0000, 0xFF80_0000 }),
                var other => throw new InvalidOperationException("unexpected fixture dtype " + other),
            };
            checkpoint.Dispose(); // close the reader before writing into its file
            using var stream = new FileStream(file.Path, FileMode.Open, FileAccess.Write);
            for (int k = 0; k < values.Length; k++)
            {
                stream.Position = ((DotnetMerge.Safetensors.SafetensorsFile)file).Header.DataStart + info.Begin + (long)k * width * 7; // elements 0, 7 and 14
                stream.Write(BitConverter.GetBytes(values[k]), 0, width);
            }
        }
        var definition = _ws.Write("merge.yaml", $"merge_method: linear\nmodels:\n  - model: {a}\n    parameters: {{weight: 1}}\n  - model: {b}\n    parameters: {{weight: 1}}\n");

        var plain = await CliRunner.RunAsync("check", definition);
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.DoesNotContain("DMRG0720", plain.Err); // check reads no tensor data unless asked

        var scanned = await CliRunner.RunAsync("check", definition, "--scan");
        Assert.True(scanned.ExitCode == 0, scanned.ToString());
        var line = Assert.Single(scanned.Err.Split('\n'), l => l.Contains("DMRG0720"));
        Assert.Contains($"model '{b}'", line);
        Assert.Contains($"tensor '{poisoned}' holds 1 NaN and 2 infinite values (of {elements:N0})", line);
        Assert.Contains("1 hold NaN or infinite values", scanned.Out);
    }
}
