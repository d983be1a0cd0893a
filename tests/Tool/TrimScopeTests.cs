using DotnetMerge.Safetensors;

namespace DotnetMerge.Tool.Tests;

/// <summary>`trim_scope: model` (TIES paper): one magnitude threshold per model over its whole task vector.</summary>
public sealed class TrimScopeTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    [Fact]
    public async Task ModelScope_KeepsExactlyTheDeltasAboveTheWholeModelThreshold()
    {
        var b = await _ws.BaseAsync(name: "base");
        var f = await _ws.FineTuneAsync("ft", "", 0);
        var config = _ws.Write("ties.yaml", """
            merge_method: ties
            base_model: models/base
            models:
              - model: models/ft
                parameters: {weight: 1, density: 0.3}
            parameters:
              trim_scope: model
            """);
        var output = _ws.PathOf("out");
        var result = await CliRunner.RunAsync(config, output, "--no-progress");
        Assert.True(result.ExitCode == 0, result.ToString());

        // Independent threshold: the k-th largest |ft - base| over every tensor of the model, k = floor(0.3 * elements).
        using var checkpoint = ModelCheckpoint.Open(b);
        var names = checkpoint.TensorNames.Order(StringComparer.Ordinal).ToList();
        var deltas = names.ToDictionary(n => n, n =>
        {
            var x = TestWorkspace.ReadTensor(f, n);
            var y = TestWorkspace.ReadTensor(b, n);
            return x.Select((v, i) => Math.Abs(v - y[i])).ToArray();
        });
        var all = deltas.Values.SelectMany(d => d).OrderByDescending(d => d).ToArray();
        long k = (long)(0.3 * all.Length);
        double threshold = all[k - 1];

        long kept = 0;
        foreach (var name in names)
        {
            var merged = TestWorkspace.ReadRaw(output, name).Bytes;
            var fine = TestWorkspace.ReadRaw(f, name).Bytes;
            var basis = TestWorkspace.ReadRaw(b, name).Bytes;
            var d = deltas[name];
            for (int i = 0; i < d.Length; i++)
            {
                bool keep = d[i] >= threshold && d[i] > 0;
                var expected = keep ? fine : basis;
                Assert.True(merged[2 * i] == expected[2 * i] && merged[2 * i + 1] == expected[2 * i + 1],
                    $"{name}[{i}]: |delta| {d[i]} vs threshold {threshold}: expected the {(keep ? "fine-tune's" : "base's")} value");
                if (keep) kept++;
            }
        }
        Assert.InRange(kept, k, k + all.Count(v => v == threshold));

        // Per-tensor scope keeps 30 % of every tensor; the model scope keeps almost all of the (relatively large) norm deltas.
        var norm = deltas["model.norm.weight"];
        Assert.True(norm.Count(v => v >= threshold) > 0.6 * norm.Length, "the norm deltas should mostly pass the whole-model threshold");
    }

    [Fact]
    public async Task ModelScope_NeedsOneDensityPerModel()
    {
        await _ws.BaseAsync(name: "base");
        await _ws.FineTuneAsync("ft", "", 0);
        var config = _ws.Write("ties.yaml", """
            merge_method: ties
            base_model: models/base
            models:
              - model: models/ft
                parameters:
                  weight: 1
                  density: [0.2, 0.6]
            parameters:
              trim_scope: model
            """);
        // check and the run agree: both report the density's location with its id (the run used to fail mid-merge, unlocated).
        var check = await CliRunner.RunAsync("check", config);
        Assert.Equal(ExitCodes.InvalidDefinition, check.ExitCode);
        Assert.Contains("ties.yaml(7,16): error DMRG0313: trim_scope: model needs one density per model", check.Err);
        var result = await CliRunner.RunAsync(config, _ws.PathOf("out"), "--no-progress");
        Assert.Equal(ExitCodes.InvalidDefinition, result.ExitCode);
        Assert.Contains("ties.yaml(7,16): error DMRG0313: trim_scope: model needs one density per model", result.Err);
        Assert.False(Directory.Exists(_ws.PathOf("out")));
    }
}
