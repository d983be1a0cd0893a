using System.Text.Json;
using DotnetMerge.Demo;

namespace DotnetMerge.Tool.Tests.Analysis;

/// <summary><c>dotnet merge analyze</c> through the CLI: outputs, exit codes, located errors, help.</summary>
public sealed class AnalyzeCliTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    private async Task<string> DefinitionAsync(string method = "ties", string parameters = "{weight: 1.0, density: 0.5}", bool withBase = true)
    {
        await _ws.BaseAsync();
        await _ws.FineTuneAsync("attn", "self_attn", 0);
        await _ws.FineTuneAsync("mlp", "mlp", 2);
        return _ws.Write("merge.yaml", $"merge_method: {method}\n" + (withBase ? "base_model: models/base\n" : "") +
            $"models:\n  - model: models/attn\n    parameters: {parameters}\n  - model: models/mlp\n    parameters: {parameters}\ndtype: bfloat16\n");
    }

    [Fact]
    public async Task Writes_the_page_the_json_and_the_figures()
    {
        var config = await DefinitionAsync();
        var html = _ws.PathOf("out", "report.html");
        var json = _ws.PathOf("out", "report.json");
        var svg = _ws.PathOf("figures");
        var r = await CliRunner.RunAsync("analyze", config, "-o", html, "--json", json, "--svg", svg);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("tensors", r.Err); // progress
        var page = File.ReadAllText(html);
        Assert.DoesNotContain("<script", page, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("<figure id=\"kept\">", page); // ties trims: the kept-mass chart is drawn
        Assert.DoesNotContain("http://", page.Replace("http://www.w3.org/2000/svg", ""), StringComparison.Ordinal); // nothing fetched
        Assert.DoesNotContain("https://", page, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal("ties", doc.RootElement.GetProperty("method").GetString());
        Assert.Equal(TestWorkspace.SmallSpec.Layers, doc.RootElement.GetProperty("layers").GetArrayLength());
        // The attention fine-tune never touches the MLPs: its MLP relative norm is 0, the other's is not.
        var mlp = doc.RootElement.GetProperty("groups").GetProperty("mlp").GetProperty("relativeNorm");
        Assert.Equal(0, mlp[0].GetDouble());
        Assert.True(mlp[1].GetDouble() > 0);
        var files = Directory.GetFiles(svg, "*.svg").Select(Path.GetFileName).ToList();
        Assert.Contains("relative-norm.svg", files);
        Assert.Contains("sign-conflict-matrix.svg", files);
        Assert.All(Directory.GetFiles(svg), f => Assert.StartsWith("<?xml", File.ReadAllText(f)));
        Assert.False(Directory.EnumerateFiles(_ws.PathOf("out"), "*.tmp-*").Any());

        // An existing report is kept unless --force.
        var again = await CliRunner.RunAsync("analyze", config, "-o", html);
        Assert.Equal(ExitCodes.OutputError, again.ExitCode);
        Assert.Contains("--force", again.Err);
        Assert.Equal(page, File.ReadAllText(html));
        Assert.Equal(0, (await CliRunner.RunAsync("analyze", config, "-o", html, "--force")).ExitCode);
    }

    [Fact]
    public async Task A_definition_without_a_base_model_is_a_located_definition_error()
    {
        var config = await DefinitionAsync("linear", "{weight: 1.0}", withBase: false);
        var r = await CliRunner.RunAsync("analyze", config, "-o", _ws.PathOf("r.html"));
        Assert.Equal(ExitCodes.InvalidDefinition, r.ExitCode);
        Assert.Contains("merge.yaml(1,", r.Err);
        Assert.Contains("DMRG0960", r.Err);
        Assert.False(File.Exists(_ws.PathOf("r.html")));
    }

    [Fact]
    public async Task A_merged_model_that_is_no_model_is_an_input_error()
    {
        var config = await DefinitionAsync();
        Directory.CreateDirectory(_ws.PathOf("empty"));
        var r = await CliRunner.RunAsync("analyze", config, "--merged", _ws.PathOf("empty"), "-o", _ws.PathOf("r.html"));
        Assert.Equal(ExitCodes.InvalidInput, r.ExitCode);
        Assert.Contains("DMRG0961", r.Err);
        Assert.False(File.Exists(_ws.PathOf("r.html")));
    }

    [Fact]
    public async Task Merged_output_adds_the_retained_share()
    {
        var config = await DefinitionAsync("task_arithmetic", "{weight: 1.0}");
        var merged = _ws.PathOf("merged");
        Assert.Equal(0, (await CliRunner.RunAsync(config, merged, "--no-progress")).ExitCode);
        var json = _ws.PathOf("r.json");
        var r = await CliRunner.RunAsync("analyze", config, "--merged", merged, "--json", json);
        Assert.True(r.ExitCode == 0, r.ToString());
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        // task_arithmetic with weight 1 carries all of each (disjoint) task vector, up to bf16 rounding of the output.
        var retained = doc.RootElement.GetProperty("total").GetProperty("mergedRetained");
        Assert.InRange(retained[0].GetDouble(), 0.97, 1.03);
        Assert.InRange(retained[1].GetDouble(), 0.97, 1.03);
    }

    [Fact]
    public async Task Help_explains_the_command()
    {
        var r = await CliRunner.RunAsync("analyze", "--help");
        Assert.Equal(0, r.ExitCode);
        foreach (var option in new[] { "--output", "--json", "--svg", "--png", "linux-x64", "--merged", "sign-conflict", "task-vector" })
            Assert.Contains(option, r.Out);
    }

    public void Dispose() => _ws.Dispose();
}
