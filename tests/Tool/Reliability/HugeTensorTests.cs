using System.Text;

namespace DotnetMerge.Tool.Tests.Reliability;

/// <summary>A tensor larger than one managed array (over 2 GiB) in the passes that hold a whole tensor (analyze, the
/// whole-model trim) is a located input error, exit 3, never an overflow (exit 1). The files are sparse: their 3 GiB
/// of zeros take no disk space.</summary>
public sealed class HugeTensorTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private const long Elements = 805_306_368; // 3 GiB of float32

    private string SparseModel(string name)
    {
        var dir = _ws.PathOf("models", name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), "{\"architectures\": [\"X\"], \"model_type\": \"x\"}");
        var header = $"{{\"model.layers.0.mlp.weight\":{{\"dtype\":\"F32\",\"shape\":[{Elements}],\"data_offsets\":[0,{Elements * 4}]}}}}";
        header = header.PadRight((header.Length + 7) / 8 * 8);
        using var file = new FileStream(Path.Combine(dir, "model.safetensors"), FileMode.CreateNew);
        file.Write(BitConverter.GetBytes((ulong)header.Length));
        file.Write(Encoding.UTF8.GetBytes(header));
        file.SetLength(8 + header.Length + Elements * 4);
        return dir;
    }

    [Theory]
    [InlineData("analyze")]
    [InlineData("trim")]
    public async Task A_tensor_over_2_GiB_is_an_input_error_naming_it(string pass)
    {
        SparseModel("base");
        SparseModel("ft");
        var config = _ws.Write("m.yaml", "merge_method: ties\nbase_model: models/base\nmodels:\n  - model: models/ft\n    parameters: {weight: 1.0, density: 0.5}\n" +
            (pass == "trim" ? "parameters: {trim_scope: model}\n" : ""));
        var result = pass == "analyze"
            ? await CliRunner.RunAsync("analyze", config, "-o", _ws.PathOf("report.html"))
            : await CliRunner.RunAsync(config, _ws.PathOf("out"), "--no-progress");
        Assert.True(result.ExitCode == ExitCodes.InvalidInput, result.ToString());
        Assert.Contains("model.layers.0.mlp.weight", result.Err, StringComparison.Ordinal);
        Assert.Contains("DMRG0709", result.Err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_ws.PathOf("out")));
    }
}
