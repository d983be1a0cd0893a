using System.IO.Compression;
using System.Text;
using DotnetMerge.Safetensors;
using DotnetMerge.Tests.Pickle;

namespace DotnetMerge.Tool.Tests;

/// <summary>PyTorch .bin models through the CLI: merged, checked, planned, inspected, souped and extracted from directly
/// (same bytes as from their safetensors), a hostile pickle refused before anything is written, and <c>convert</c>.</summary>
public sealed class BinCliTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    /// <summary>models/a (base), models/b (a fine-tune) and models/b-bin: b re-saved as pytorch_model.bin only.</summary>
    private async Task<string> ModelsAsync()
    {
        await _ws.BaseAsync(TestWorkspace.SmallSpec, "a");
        var b = await _ws.FineTuneAsync("b", "mlp", 0, TestWorkspace.SmallSpec);
        var bin = TorchZipWriter.CopyAsBin(b, _ws.PathOf("models", "b-bin"));
        Assert.Empty(Directory.GetFiles(bin, "*.safetensors"));
        return bin;
    }

    private string Config(string name, string second) => _ws.Write(name, $"""
        merge_method: task_arithmetic
        base_model: models/a
        models:
          - model: {second}
            parameters: {"{"}weight: 0.7{"}"}
        dtype: bfloat16

        """);

    private static void AssertSameTensors(string expected, string actual)
    {
        using var a = ModelCheckpoint.Open(expected);
        using var b = ModelCheckpoint.Open(actual);
        Assert.Equal(a.TensorNames.Order(), b.TensorNames.Order());
        foreach (var name in a.TensorNames)
            Assert.Equal(TestWorkspace.ReadRaw(expected, name).Bytes, TestWorkspace.ReadRaw(actual, name).Bytes);
    }

    [Fact]
    public async Task A_bin_only_model_is_a_direct_input_to_run_check_plan_inspect_soup_and_extract()
    {
        var bin = await ModelsAsync();
        var fromSafetensors = await CliRunner.RunAsync(Config("st.yaml", "models/b"), _ws.PathOf("out-st"), "--no-progress");
        Assert.True(fromSafetensors.ExitCode == 0, fromSafetensors.ToString());
        var binConfig = Config("bin.yaml", "models/b-bin");
        var fromBin = await CliRunner.RunAsync(binConfig, _ws.PathOf("out-bin"), "--no-progress");
        Assert.True(fromBin.ExitCode == 0, fromBin.ToString());
        AssertSameTensors(_ws.PathOf("out-st"), _ws.PathOf("out-bin"));

        var check = await CliRunner.RunAsync("check", binConfig, "--scan");
        Assert.True(check.ExitCode == 0, check.ToString());
        var plan = await CliRunner.RunAsync("plan", binConfig, "--json");
        Assert.True(plan.ExitCode == 0, plan.ToString());
        Assert.Contains("model.layers.0.mlp.up_proj.weight", plan.Out);

        var inspect = await CliRunner.RunAsync("inspect", Path.Combine(bin, "pytorch_model.bin"));
        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        Assert.Contains("model.embed_tokens.weight", inspect.Out);
        var inspectDir = await CliRunner.RunAsync("inspect", bin, "--json");
        Assert.True(inspectDir.ExitCode == 0, inspectDir.ToString());
        Assert.Contains("pytorch_model.bin", inspectDir.Out);

        var a = _ws.PathOf("models", "a");
        var soupSt = await CliRunner.RunAsync("soup", a, _ws.PathOf("models", "b"), "-o", _ws.PathOf("soup-st"), "--no-progress");
        Assert.True(soupSt.ExitCode == 0, soupSt.ToString());
        var soupBin = await CliRunner.RunAsync("soup", a, bin, "-o", _ws.PathOf("soup-bin"), "--no-progress");
        Assert.True(soupBin.ExitCode == 0, soupBin.ToString());
        AssertSameTensors(_ws.PathOf("soup-st"), _ws.PathOf("soup-bin"));

        var tvSt = await CliRunner.RunAsync("extract", "--base", a, "--model", _ws.PathOf("models", "b"), "-o", _ws.PathOf("tv-st"), "--no-progress");
        Assert.True(tvSt.ExitCode == 0, tvSt.ToString());
        var tvBin = await CliRunner.RunAsync("extract", "--base", a, "--model", bin, "-o", _ws.PathOf("tv-bin"), "--no-progress");
        Assert.True(tvBin.ExitCode == 0, tvBin.ToString());
        AssertSameTensors(_ws.PathOf("tv-st"), _ws.PathOf("tv-bin"));
    }

    [Fact]
    public async Task A_hostile_pickle_as_a_merge_input_is_exit_3_naming_the_file_and_writes_nothing()
    {
        var bin = await ModelsAsync();
        var sentinel = _ws.PathOf("pwned");
        var weights = Path.Combine(bin, "pytorch_model.bin");
        File.Delete(weights);
        // GLOBAL os.system, the command, TUPLE1, REDUCE: what a malicious checkpoint runs under pickle.load.
        var cmd = Encoding.UTF8.GetBytes("touch " + sentinel);
        byte[] pickle = [0x80, 2, .. "cos\nsystem\nX"u8, .. BitConverter.GetBytes(cmd.Length), .. cmd, 0x85, (byte)'R', (byte)'.'];
        using (var zip = ZipFile.Open(weights, ZipArchiveMode.Create))
        using (var s = zip.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open())
            s.Write(pickle);
        var output = _ws.PathOf("out");
        var result = await CliRunner.RunAsync(Config("evil.yaml", "models/b-bin"), output, "--no-progress");
        Assert.True(result.ExitCode == ExitCodes.InvalidInput, result.ToString());
        Assert.True(result.Err.Contains("error DMRG0732: " + weights + ": ", StringComparison.Ordinal), result.Err);
        Assert.Contains("os.system", result.Err);
        Assert.False(Directory.Exists(output));
        Assert.DoesNotContain(Directory.GetDirectories(_ws.Root), d => Path.GetFileName(d).Contains("out", StringComparison.Ordinal)); // no staging left
        Assert.False(File.Exists(sentinel));
    }

    [Fact]
    public async Task Convert_help_says_what_is_read_and_written()
    {
        var help = await CliRunner.RunAsync("convert", "--help");
        Assert.True(help.ExitCode == 0, help.ToString());
        foreach (var text in new[] { "pytorch_model.bin", "safetensors", "never executed", "--force", "--out-shard-size", "Not needed to merge" })
            Assert.Contains(text, help.Out);
        Assert.Contains("dotnet merge convert <input> <output>", help.Out);
        // Its own arguments only: not the root command's <output> ("the merged model") beside its own.
        var arguments = help.Out.Split('\n').SkipWhile(l => l.TrimEnd() != "Arguments:").Skip(1).TakeWhile(l => l.Trim().Length > 0).ToList();
        Assert.Equal(2, arguments.Count);
        Assert.StartsWith("  <input>", arguments[0]);
        Assert.StartsWith("  <output>", arguments[1]);
        Assert.Contains("safetensors model", arguments[1]);
    }

    [Fact]
    public async Task Convert_writes_the_same_tensors_and_its_errors_say_what_to_do()
    {
        var bin = await ModelsAsync();
        var missing = await CliRunner.RunAsync("convert", _ws.PathOf("models", "nope"), _ws.PathOf("conv"));
        Assert.True(missing.ExitCode == ExitCodes.InvalidInput, missing.ToString());
        Assert.Contains("nope", missing.Err);
        Assert.Contains("does not exist", missing.Err);
        Assert.False(Directory.Exists(_ws.PathOf("conv")));

        var noBin = await CliRunner.RunAsync("convert", _ws.PathOf("models", "a"), _ws.PathOf("conv"));
        Assert.True(noBin.ExitCode == ExitCodes.InvalidInput, noBin.ToString());
        Assert.Contains("no PyTorch weights", noBin.Err);

        var output = _ws.PathOf("conv");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "keep.txt"), "user data");
        var exists = await CliRunner.RunAsync("convert", bin, output);
        Assert.True(exists.ExitCode == ExitCodes.OutputError, exists.ToString());
        Assert.Contains("--force", exists.Err);
        Assert.True(File.Exists(Path.Combine(output, "keep.txt")));

        var forced = await CliRunner.RunAsync("convert", bin, output, "--force");
        Assert.True(forced.ExitCode == 0, forced.ToString());
        Assert.Contains("tensors", forced.Out);
        Assert.False(File.Exists(Path.Combine(output, "keep.txt")));
        Assert.True(File.Exists(Path.Combine(output, "config.json")));
        AssertSameTensors(_ws.PathOf("models", "b"), output);
        using var converted = ModelCheckpoint.Open(output);
        Assert.Equal(WeightsFormat.Safetensors, converted.Format);
    }
}
