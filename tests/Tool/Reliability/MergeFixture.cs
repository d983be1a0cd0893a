using DotnetMerge.Engine;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tool.Tests.Reliability;

/// <summary>A workspace with a base and two fine-tunes (39 tensors: more than the executor's queues hold) and a
/// task-arithmetic definition over them, plus helpers to run it in-process with options of the test's choosing.</summary>
public sealed class MergeFixture : IAsyncLifetime, IDisposable
{
    public TestWorkspace Workspace { get; } = new();

    public string Definition { get; private set; } = "";

    public async Task InitializeAsync()
    {
        await Workspace.BaseAsync();
        await Workspace.FineTuneAsync("ft1", "", 0);
        await Workspace.FineTuneAsync("ft2", "mlp", 0);
        Definition = WriteDefinition("merge.yaml", 0.5);
    }

    public Task DisposeAsync()
    {
        Dispose();
        return Task.CompletedTask;
    }

    public static async Task<MergeFixture> CreateAsync()
    {
        var f = new MergeFixture();
        await f.InitializeAsync();
        return f;
    }

    public string WriteDefinition(string name, double weight) => Workspace.Write(name,
        "merge_method: task_arithmetic\nbase_model: models/base\nmodels:\n" +
        FormattableString.Invariant($"  - model: models/ft1\n    parameters: {{weight: {weight}}}\n  - model: models/ft2\n    parameters: {{weight: 0.3}}\n") +
        "dtype: bfloat16\n");

    public int TensorCount => TestWorkspace.SmallSpec.Tensors().Count();

    /// <summary>Runs the definition into <paramref name="output"/> the way the CLI does (Cli.Guard maps the failure to
    /// the exit code), with <paramref name="options"/> (faults, backend...).</summary>
    public async Task<CliRunner.Result> RunAsync(string output, MergeOptions options, CancellationToken ct = default, string? definition = null)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var console = new ToolConsole(stdout, stderr, interactive: false);
        int code = await Cli.Guard(console, Verbosity.Diagnostic, async () =>
        {
            var def = MergeRunner.LoadDefinition(definition ?? Definition, out _);
            await MergeRunner.RunAsync(def, output, options with { Threads = 2, WorkingDirectory = Workspace.Root }, null, ct);
            return ExitCodes.Success;
        }, ct);
        return new CliRunner.Result(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Nothing of the run is left: no output and no hidden staging or moved-aside directory beside it.</summary>
    public static void AssertNothingWritten(string output, string context)
    {
        Assert.False(Directory.Exists(output), $"{context}: the output exists");
        var leftovers = Directory.GetFileSystemEntries(Path.GetDirectoryName(output)!, $".{Path.GetFileName(output)}.*");
        Assert.True(leftovers.Length == 0, $"{context}: left behind {string.Join(", ", leftovers)}");
    }

    /// <summary>Writes a model directory from raw tensors (through the library's writer, which has its own tests) with a
    /// llama config.json.</summary>
    public static async Task WriteModelAsync(string directory, params (string Name, Dtype Dtype, long[] Shape, byte[] Data)[] tensors)
    {
        Directory.CreateDirectory(directory);
        await using (var writer = new ShardedModelWriter(directory, tensors.Select(t => new OutputTensor(t.Name, t.Dtype, t.Shape)).ToList(), 0))
        {
            foreach (var t in tensors) await writer.WriteTensorAsync(t.Name, t.Data);
            await writer.CompleteAsync();
        }
        File.WriteAllText(Path.Combine(directory, "config.json"),
            "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"num_hidden_layers\": 1, \"hidden_size\": 4, \"vocab_size\": 8}\n");
    }

    public static byte[] F32(params float[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    public void Dispose() => Workspace.Dispose();
}
