using System.Text.Json;
using System.Text.RegularExpressions;
using DotnetMerge.Demo;

namespace DotnetMerge.Tool.Tests.Analysis;

/// <summary>The report page of a 32-layer merge, opened in headless Chromium (Debian's <c>chromium</c>; .ci/run installs
/// it): it renders with no script error, every chart has its title and both axes with labels, it is under 2 MB, and a
/// screenshot is taken. The models plant what the page must show: <c>rival</c> reverses <c>tuned</c>'s change from
/// layer 16 on (sign conflicts near 1), <c>loud</c> is <c>tuned</c>'s change ten times larger in the MLPs.</summary>
public sealed partial class AnalyzePageTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public static readonly LlamaSpec Spec = new(Layers: 32, Hidden: 32, Intermediate: 48, Vocab: 96, Heads: 4, KvHeads: 2);

    /// <summary>Writes the planted models and the definition; returns the definition's path.</summary>
    public static async Task<string> PlantedAsync(TestWorkspace ws)
    {
        await SyntheticModels.WriteBaseAsync(ws.PathOf("models", "base"), Spec);
        await SyntheticModels.WriteFineTuneAsync(ws.PathOf("models", "tuned"), Spec, new FineTune("tuned", "", 0, 0.05, 1.0, 7));
        await SyntheticModels.WriteFineTuneAsync(ws.PathOf("models", "rival"), Spec, new FineTune("rival", "", 16, -0.05, 1.0, 7));
        await SyntheticModels.WriteFineTuneAsync(ws.PathOf("models", "loud"), Spec, new FineTune("loud", "mlp", 0, 0.5, 1.0, 7));
        return ws.Write("merge.yaml", """
            merge_method: ties
            base_model: models/base
            models:
              - model: models/tuned
                parameters: {weight: 1.0, density: 0.5}
              - model: models/rival
                parameters: {weight: 1.0, density: 0.5}
              - model: models/loud
                parameters: {weight: 1.0, density: 0.5}
            dtype: bfloat16
            """);
    }

    [SkippableFact]
    public async Task The_page_of_a_32_layer_model_renders_with_titled_charts_and_axes()
    {
        var chromium = HeadlessChromium.Find();
        Skip.If(chromium is null, HeadlessChromium.Missing);
        var config = await PlantedAsync(_ws);
        var html = _ws.PathOf("report.html");
        var json = _ws.PathOf("report.json");
        var r = await CliRunner.RunAsync("analyze", config, "-o", html, "--json", json);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(new FileInfo(html).Length < 2_000_000, $"the page weighs {new FileInfo(html).Length} bytes");

        // The planted structure, in the numbers the page draws.
        using (var doc = JsonDocument.Parse(File.ReadAllText(json)))
        {
            var layers = doc.RootElement.GetProperty("layers");
            Assert.Equal(32, layers.GetArrayLength());
            Assert.True(layers[20].GetProperty("signConflictRate")[0][1].GetDouble() > 0.95);
            Assert.True(layers[20].GetProperty("cosine")[0][1].GetDouble() < -0.95);
            var mlp = doc.RootElement.GetProperty("groups").GetProperty("mlp").GetProperty("relativeNorm");
            Assert.InRange(mlp[2].GetDouble() / mlp[0].GetDouble(), 9.5, 10.5);
        }

        var url = new Uri(html).AbsoluteUri;
        var dom = HeadlessChromium.Run(chromium!, _ws.PathOf("chromium-profile"), "--dump-dom", url);
        Assert.True(dom.ExitCode == 0, dom.Err);
        Assert.DoesNotContain("Uncaught", dom.Err, StringComparison.Ordinal);
        Assert.DoesNotMatch(new Regex("CONSOLE.*(error|Error)"), dom.Err);
        Assert.DoesNotContain("<script", dom.Out, StringComparison.OrdinalIgnoreCase);
        var charts = ChartPattern().Matches(dom.Out).Select(m => m.Value).ToList();
        Assert.True(charts.Count >= 7, $"{charts.Count} charts in the page");
        foreach (var chart in charts)
        {
            var title = Regex.Match(chart, "<text class=\"chart-title\"[^>]*>([^<]+)</text>");
            Assert.True(title.Success && title.Groups[1].Value.Trim().Length > 0, "a chart without a title: " + chart[..Math.Min(200, chart.Length)]);
            foreach (var axis in new[] { "x-axis", "y-axis" })
            {
                var group = Regex.Match(chart, $"<g class=\"axis {axis}\">(.*?)</g>", RegexOptions.Singleline);
                Assert.True(group.Success, $"'{title.Groups[1].Value}' has no {axis}");
                Assert.Matches("<text class=\"axis-label\"[^>]*>[^<]+</text>", group.Groups[1].Value);
            }
        }

        HeadlessChromium.Screenshot(chromium!, _ws.PathOf("chromium-profile"), url, _ws.PathOf("report.png"), 1100, 4350);
    }

    [GeneratedRegex("<svg class=\"chart\".*?</svg>", RegexOptions.Singleline)]
    private static partial Regex ChartPattern();

    public void Dispose() => _ws.Dispose();
}
