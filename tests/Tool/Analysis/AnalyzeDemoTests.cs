using System.Globalization;
using System.Text.Json;
using DotnetMerge.Demo;
using DotnetMerge.Tool.Commands;

namespace DotnetMerge.Tool.Tests.Analysis;

/// <summary><c>analyze</c> on the demo's models shows the structure the demo plants (DemoCommand.FineTunes): code
/// reverses the sign of chat's attention change on every 4th element from layer 1 on (a sign-conflict rate of 1/4 among
/// the elements both change) and carries a tenth of math's MLP change in layers 2-3 (math is 10× code there, cosine 1).
/// The figures of the JSON are compared with a float64 reference computed here from the demo's files (bf16 decoded by
/// the test), and that reference with the planted values, up to what bf16 rounding moves.</summary>
public sealed class AnalyzeDemoTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private static readonly string[] Models = ["chat", "math", "code"];

    /// <summary>Sums of one part (a layer or a tensor group) over its elements, in float64.</summary>
    private sealed class Sums
    {
        public double BaseSquares;
        public readonly double[] Squares = new double[3], Retained = new double[3];
        public readonly double[,] Dots = new double[3, 3], Both = new double[3, 3], Opposite = new double[3, 3];

        public void Add(double b, double[] delta, double merged)
        {
            BaseSquares += b * b;
            for (int i = 0; i < 3; i++)
            {
                Squares[i] += delta[i] * delta[i];
                Retained[i] += merged * delta[i];
                for (int j = i + 1; j < 3; j++)
                {
                    Dots[i, j] += delta[i] * delta[j];
                    if (delta[i] == 0 || delta[j] == 0) continue;
                    Both[i, j]++;
                    if (delta[i] > 0 != delta[j] > 0) Opposite[i, j]++;
                }
            }
        }

        public double RelativeNorm(int i) => Math.Sqrt(Squares[i] / BaseSquares);
        public double? Conflict(int i, int j) => Both[i, j] == 0 ? null : Opposite[i, j] / Both[i, j];
        public double? Cosine(int i, int j) => Squares[i] == 0 || Squares[j] == 0 ? null : Dots[i, j] / Math.Sqrt(Squares[i] * Squares[j]);
        public double? Carried(int i) => Squares[i] == 0 ? null : Retained[i] / Squares[i];
    }

    /// <summary>The tensor groups of docs/analyze.md, from the demo's (llama) names, written here.</summary>
    private static string Group(string name) => name switch
    {
        _ when name.Contains("embed_tokens", StringComparison.Ordinal) => "embeddings",
        _ when name.Contains("self_attn", StringComparison.Ordinal) => "attention",
        _ when name.Contains(".mlp.", StringComparison.Ordinal) => "mlp",
        _ when name.Contains("norm", StringComparison.Ordinal) => "norms",
        _ => "head",
    };

    /// <summary>The demo definition's weights: chat 1.0, math 0.8, code a gradient 0.5 → 1.0 over the layers on the MLPs, else 0.7.</summary>
    private static double[] Weights(string name, int layer, int layers)
        => [1.0, 0.8, name.Contains("mlp", StringComparison.Ordinal) ? 0.5 + 0.5 * layer / (layers - 1.0) : 0.7];

    [Fact]
    public async Task Analyze_on_the_demo_shows_the_planted_sign_conflicts_and_asymmetry()
    {
        var dir = _ws.PathOf("demo");
        var demo = await CliRunner.RunAsync("demo", dir, "--no-progress");
        Assert.True(demo.ExitCode == 0, demo.ToString());
        var json = Path.Combine(dir, "analysis.json");
        var analyze = await CliRunner.RunAsync("analyze", Path.Combine(dir, "merge.yaml"), "--json", json);
        Assert.True(analyze.ExitCode == 0, analyze.ToString());

        var spec = new LlamaSpec();
        var layers = Enumerable.Range(0, spec.Layers).Select(_ => new Sums()).ToArray();
        var groups = new Dictionary<string, Sums>(StringComparer.Ordinal);
        int misplacedConflicts = 0;
        foreach (var (name, _) in spec.Tensors())
        {
            var b = TestWorkspace.ReadTensor(Path.Combine(dir, "models", "base"), name);
            var models = Models.Select(m => TestWorkspace.ReadTensor(Path.Combine(dir, "models", m), name)).ToArray();
            int layer = name.StartsWith("model.layers.", StringComparison.Ordinal) ? int.Parse(name.Split('.')[2], CultureInfo.InvariantCulture) : -1;
            var w = Weights(name, Math.Max(layer, 0), spec.Layers);
            var group = groups.TryGetValue(Group(name), out var g) ? g : groups[Group(name)] = new Sums();
            var delta = new double[3];
            for (int e = 0; e < b.Length; e++)
            {
                double merged = 0;
                for (int i = 0; i < 3; i++) { delta[i] = models[i][e] - b[e]; merged += w[i] * delta[i]; }
                merged = BitConverter.Int32BitsToSingle(Bf16Reference.Round(b[e] + merged) << 16) - b[e]; // the merge's output is bf16
                group.Add(b[e], delta, merged);
                // The planted set: chat and code disagree exactly on the elements of index ≡ 0 (mod 4) both change.
                if (delta[0] != 0 && delta[2] != 0 && (delta[0] > 0 != delta[2] > 0) != (e % DemoCommand.ReversedEvery == 0)) misplacedConflicts++;
                if (layer >= 0) layers[layer].Add(b[e], delta, merged);
            }
        }

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.Equal(Models.Select(m => "models/" + m), root.GetProperty("models").EnumerateArray().Select(e => e.GetString()));
        for (int l = 0; l < spec.Layers; l++) AssertPart(layers[l], root.GetProperty("layers")[l], $"layer {l}");
        foreach (var (name, sums) in groups) AssertPart(sums, root.GetProperty("groups").GetProperty(name), name);

        // The planted values. chat = 0, math = 1, code = 2. bf16 rounding drops the smallest changes (and not always
        // for both signs alike), so the measured rates sit within a hundredth of the planted ones.
        Assert.Null(layers[0].Conflict(0, 2)); // code leaves layer 0 alone
        foreach (var part in layers.Skip(1).Append(groups["attention"])) Assert.InRange(part.Conflict(0, 2)!.Value, 0.24, 0.26);
        Assert.Equal(0, misplacedConflicts);
        var mlp = groups["mlp"];
        Assert.InRange(mlp.RelativeNorm(1) / mlp.RelativeNorm(2), 0.98 * DemoCommand.MathOverCode, 1.02 * DemoCommand.MathOverCode);
        Assert.InRange(mlp.Cosine(1, 2)!.Value, 0.99, 1.0);
        Assert.Equal(0.0, mlp.Conflict(1, 2));
        Assert.Null(mlp.Cosine(0, 1)); // chat leaves the MLPs alone
        Assert.Equal(0.0, groups["attention"].RelativeNorm(1)); // and math the attention
    }

    /// <summary>The page of the demo renders in headless Chromium with no script error; its screenshot is docs/analyze.png:
    /// <c>DOTNET_MERGE_ANALYZE_SCREENSHOT=$PWD/docs/analyze.png dotnet test tests/Tool --filter AnalyzeDemoTests</c>.</summary>
    [SkippableFact]
    public async Task The_demos_page_renders_and_is_the_screenshot_of_the_docs()
    {
        var chromium = HeadlessChromium.Find();
        Skip.If(chromium is null, HeadlessChromium.Missing);
        var dir = _ws.PathOf("demo");
        var demo = await CliRunner.RunAsync("demo", dir, "--no-progress");
        Assert.True(demo.ExitCode == 0, demo.ToString());
        var html = Path.Combine(dir, "analysis.html");
        var analyze = await CliRunner.RunAsync("analyze", Path.Combine(dir, "merge.yaml"), "-o", html, "--merged", Path.Combine(dir, "merged"));
        Assert.True(analyze.ExitCode == 0, analyze.ToString());
        var url = new Uri(html).AbsoluteUri;
        var dom = HeadlessChromium.Run(chromium!, _ws.PathOf("chromium-profile"), "--dump-dom", url);
        Assert.True(dom.ExitCode == 0, dom.Err);
        Assert.DoesNotContain("Uncaught", dom.Err, StringComparison.Ordinal);
        foreach (var title in new[] { "Sign conflicts per layer", "Task-vector norm relative to the base, per layer", "Relative task-vector norm per tensor group" })
            Assert.Contains(title, dom.Out);
        var png = _ws.PathOf("analysis.png");
        HeadlessChromium.Screenshot(chromium!, _ws.PathOf("chromium-profile"), url, png, 1100, 3900);
        if (Environment.GetEnvironmentVariable("DOTNET_MERGE_ANALYZE_SCREENSHOT") is { Length: > 0 } keep) File.Copy(png, keep, overwrite: true);
    }

    private static void AssertPart(Sums expected, JsonElement actual, string where)
    {
        for (int i = 0; i < 3; i++)
        {
            Near(expected.RelativeNorm(i), actual.GetProperty("relativeNorm")[i], 1e-9, $"{where}: relative norm of {Models[i]}");
            Near(expected.Carried(i), actual.GetProperty("methodRetained")[i], 1e-5, $"{where}: share of {Models[i]} carried");
            for (int j = i + 1; j < 3; j++)
            {
                string pair = $"{where}: {Models[i]}/{Models[j]}";
                Near(expected.Cosine(i, j), actual.GetProperty("cosine")[i][j], 1e-9, pair + " cosine");
                Near(expected.Conflict(i, j), actual.GetProperty("signConflictRate")[i][j], 1e-12, pair + " sign-conflict rate");
                Assert.Equal(expected.Both[i, j], actual.GetProperty("bothChanged")[i][j].GetDouble());
            }
        }
    }

    private static void Near(double? expected, JsonElement actual, double tolerance, string what)
    {
        if (expected is null)
        {
            Assert.True(actual.ValueKind == JsonValueKind.Null, $"{what}: expected null (undefined), got {actual}");
            return;
        }
        Assert.True(actual.ValueKind == JsonValueKind.Number, $"{what}: expected {expected}, got {actual}");
        double a = actual.GetDouble();
        Assert.True(Math.Abs(a - expected.Value) <= tolerance * Math.Max(1, Math.Abs(expected.Value)), $"{what}: expected {expected}, got {a}");
    }
}
