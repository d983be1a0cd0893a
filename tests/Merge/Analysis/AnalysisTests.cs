using System.Text.Json;
using DotnetMerge.Analysis;
using DotnetMerge.Analysis.Reports;
using DotnetMerge.Engine;
using DotnetMerge.Planning;

namespace DotnetMerge.Tests.Analysis;

/// <summary><c>analyze</c>'s numbers (read back from its JSON) against float64 references computed here from the
/// planted deltas, and against the planted values themselves.</summary>
public sealed class AnalysisTests : IDisposable
{
    private PlantedModels _fx = new();

    private static readonly string[] ModelNames = ["a", "b", "c"];
    private static readonly double[] Weights = [1.0, 0.5, 0.25];

    private string Definition(string method, string extra = "")
        => $"merge_method: {method}\nbase_model: base\ndtype: float32\nmodels:\n"
           + string.Concat(ModelNames.Select((m, i) => $"  - model: {m}\n    parameters: {{weight: {Weights[i]}{extra}}}\n"));

    private JsonDocument Analyze(string yaml, string? merged = null, int threads = 0) => JsonDocument.Parse(AnalyzeBytes(yaml, merged, threads));

    private byte[] AnalyzeBytes(string yaml, string? merged = null, int threads = 0)
    {
        var definition = MergeRunner.ParseDefinition(yaml, _fx.PathOf("merge.yaml"), out _);
        using var plan = MergeRunner.Plan(definition, new MergeOptions());
        var settings = threads > 0 ? new Kernels.ExecutionSettings(threads) : Kernels.ExecutionSettings.Default;
        var report = MergeAnalysis.Run(plan, new AnalysisOptions { MergedDirectory = merged, Settings = settings });
        var stream = new MemoryStream();
        JsonReport.Write(report, stream);
        return stream.ToArray();
    }

    [Fact]
    public void The_numbers_do_not_depend_on_the_thread_count()
    {
        // dare_ties: the random draws and the magnitude selection both take part; the MLP tensors span 3 chunks.
        _fx.Dispose();
        _fx = new PlantedModels(layers: 2, intermediate: 20000);
        var yaml = Definition("dare_ties", ", density: 0.4");
        Assert.Equal(AnalyzeBytes(yaml, threads: 1), AnalyzeBytes(yaml, threads: 5));
    }

    /// <summary>The float64 reference sums over the tensors <paramref name="include"/> selects.</summary>
    private sealed class Reference
    {
        public double BaseSquares;
        public readonly double[] Squares = new double[3], Kept = new double[3], MethodDots = new double[3];
        public readonly double[,] Dots = new double[3, 3];
        public readonly long[,] Both = new long[3, 3], Conflicts = new long[3, 3];

        public double RelativeNorm(int i) => Math.Sqrt(Squares[i] / BaseSquares);
        public double Cosine(int i, int j) => Dots[i, j] / Math.Sqrt(Squares[i] * Squares[j]);
        public double Conflict(int i, int j) => (double)Conflicts[i, j] / Both[i, j];
    }

    /// <param name="density">TIES density: the kept mass is that of the ⌊density·n⌋ largest |δ| of each tensor
    /// (ties: the lower index first); null keeps everything.</param>
    /// <param name="merged">Per tensor, the merged delta m; null: Σ wᵢ·δᵢ (task arithmetic).</param>
    private Reference Sums(Func<string, bool> include, double? density = null, Func<string, double[]>? merged = null)
    {
        var r = new Reference();
        foreach (var (name, _) in _fx.Tensors.Where(t => include(t.Name)))
        {
            var b = _fx.Base[name];
            var d = ModelNames.Select(m => _fx.Deltas[m][name]).ToArray();
            int n = b.Length;
            r.BaseSquares += b.Sum(v => v * v);
            var m = merged?.Invoke(name) ?? Enumerable.Range(0, n).Select(k => Enumerable.Range(0, 3).Sum(i => Weights[i] * d[i][k])).ToArray();
            for (int i = 0; i < 3; i++)
            {
                r.Squares[i] += d[i].Sum(v => v * v);
                r.MethodDots[i] += Enumerable.Range(0, n).Sum(k => m[k] * d[i][k]);
                if (density is { } p)
                {
                    int keep = Math.Max(1, (int)(p * n));
                    var order = Enumerable.Range(0, n).OrderByDescending(k => Math.Abs(d[i][k])).ThenBy(k => k).Take(keep);
                    r.Kept[i] += order.Sum(k => d[i][k] * d[i][k]);
                }
                else r.Kept[i] = r.Squares[i];
                for (int j = 0; j < 3; j++)
                    for (int k = 0; k < n; k++)
                    {
                        r.Dots[i, j] += d[i][k] * d[j][k];
                        if (d[i][k] != 0 && d[j][k] != 0)
                        {
                            r.Both[i, j]++;
                            if (Math.Sign(d[i][k]) != Math.Sign(d[j][k])) r.Conflicts[i, j]++;
                        }
                    }
            }
        }
        return r;
    }

    private static double At(JsonElement part, string name, int i) => part.GetProperty(name)[i].GetDouble();
    private static double At(JsonElement part, string name, int i, int j) => part.GetProperty(name)[i][j].GetDouble();

    private static void Close(double expected, double actual, double relative = 1e-9)
        => Assert.True(Math.Abs(expected - actual) <= relative * Math.Max(1, Math.Abs(expected)), $"expected {expected:R}, got {actual:R}");

    private static void AssertPart(Reference r, JsonElement part, bool checkKept)
    {
        for (int i = 0; i < 3; i++)
        {
            Close(r.RelativeNorm(i), At(part, "relativeNorm", i));
            if (checkKept) Close(r.Kept[i] / r.Squares[i], At(part, "keptFraction", i));
            for (int j = 0; j < 3; j++)
            {
                if (i == j) continue;
                Close(r.Cosine(i, j), At(part, "cosine", i, j));
                Close(r.Conflict(i, j), At(part, "signConflictRate", i, j));
                Assert.Equal(r.Both[i, j], part.GetProperty("bothChanged")[i][j].GetInt64());
            }
        }
    }

    [Fact]
    public void Planted_conflicts_and_the_tenfold_fine_tune_show_in_every_layer()
    {
        using var json = Analyze(Definition("task_arithmetic"));
        var root = json.RootElement;
        Assert.Equal(["a", "b", "c"], root.GetProperty("models").EnumerateArray().Select(e => e.GetString()!));
        var layers = root.GetProperty("layers").EnumerateArray().ToList();
        Assert.Equal(_fx.Layers, layers.Count);
        foreach (var layer in layers)
        {
            int l = layer.GetProperty("layer").GetInt32();
            var r = Sums(n => PlantedModels.LayerOf(n) == l);
            AssertPart(r, layer, checkKept: true);
            for (int i = 0; i < 3; i++) Close(r.MethodDots[i] / r.Squares[i], At(layer, "methodRetained", i), 1e-6); // the merge is float32
            // The planted values themselves.
            Close(1.0 / 3, At(layer, "signConflictRate", 0, 1));
            Close(1.0 / 3, At(layer, "signConflictRate", 1, 2));
            Assert.Equal(0, At(layer, "signConflictRate", 0, 2));
            Close(10, At(layer, "relativeNorm", 2) / At(layer, "relativeNorm", 0));
            Close(1, At(layer, "cosine", 0, 2));
        }
        AssertPart(Sums(_ => true), root.GetProperty("total"), checkKept: true);
        var groups = root.GetProperty("groups");
        Assert.Equal(["embeddings", "attention", "mlp", "norms", "head"], groups.EnumerateObject().Select(p => p.Name));
        AssertPart(Sums(n => n.Contains("norm")), groups.GetProperty("norms"), checkKept: true);
        AssertPart(Sums(n => n == "lm_head.weight"), groups.GetProperty("head"), checkKept: true);
        Assert.Empty(root.GetProperty("summary").GetProperty("farParts").EnumerateArray()); // C is 10x everywhere: asymmetric, never local
        Close(Sums(_ => true).RelativeNorm(2), root.GetProperty("summary").GetProperty("models")[2].GetProperty("relativeNorm").GetDouble());
    }

    [Fact]
    public void Ties_keeps_the_mass_of_the_largest_deltas_at_the_configured_density()
    {
        using var json = Analyze(Definition("ties", ", density: 0.3"));
        var root = json.RootElement;
        foreach (var layer in root.GetProperty("layers").EnumerateArray())
        {
            int l = layer.GetProperty("layer").GetInt32();
            AssertPart(Sums(n => PlantedModels.LayerOf(n) == l, density: 0.3), layer, checkKept: true);
        }
        var total = Sums(_ => true, density: 0.3);
        AssertPart(total, root.GetProperty("total"), checkKept: true);
        Assert.True(At(root.GetProperty("total"), "keptFraction", 0) is > 0.3 and < 1); // the largest 30% carry more than 30% of the mass
    }

    [Fact]
    public void Dare_keeps_about_the_density_of_the_mass()
    {
        using var json = Analyze(Definition("dare_linear", ", density: 0.5"));
        var total = json.RootElement.GetProperty("total");
        // Each element is kept with probability 0.5, independently of its size: the kept mass is near half (about 1700
        // elements per model: a standard deviation near 0.02).
        for (int i = 0; i < 3; i++) Assert.InRange(At(total, "keptFraction", i), 0.42, 0.58);
    }

    [Fact]
    public async Task A_merged_model_retains_what_the_reference_projection_says()
    {
        var yaml = Definition("task_arithmetic");
        var definition = MergeRunner.ParseDefinition(yaml, _fx.PathOf("merge.yaml"), out _);
        var output = _fx.PathOf("merged");
        await MergeRunner.RunAsync(definition, output, new MergeOptions());
        using var json = Analyze(yaml, output);
        var root = json.RootElement;
        Assert.Equal(output, root.GetProperty("mergedModel").GetString());
        double[] MergedDelta(string name) => PlantedModels.Read(output, name).Zip(_fx.Base[name], (x, b) => x - b).ToArray();
        foreach (var layer in root.GetProperty("layers").EnumerateArray())
        {
            int l = layer.GetProperty("layer").GetInt32();
            var r = Sums(n => PlantedModels.LayerOf(n) == l, merged: MergedDelta);
            for (int i = 0; i < 3; i++) Close(r.MethodDots[i] / r.Squares[i], At(layer, "mergedRetained", i));
        }
    }

    [Fact]
    public void An_earlier_stage_is_analysed_as_the_fused_run_computes_it()
    {
        // mid = (a + c) / 2, so δ_mid = (δa + 10·δa) / 2 = 5.5·δa; the final stage merges mid and b into the base.
        var yaml = "name: mid\nmerge_method: linear\ndtype: float32\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: c\n    parameters: {weight: 1}\n---\n"
                   + "merge_method: task_arithmetic\nbase_model: base\ndtype: float32\nmodels:\n  - model: mid\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 1}\n";
        var path = _fx.PathOf("stages.yaml");
        File.WriteAllText(path, yaml);
        var graph = MultiStageRunner.LoadStages(path, _fx.Root, out _);
        using var multi = StagePlanner.Plan(graph, new MergeOptions());
        var report = MergeAnalysis.Run(multi.Final, new AnalysisOptions());
        Assert.Equal(["mid", "b"], report.Models);
        var all = Sums(_ => true);
        Close(5.5 * all.RelativeNorm(0), report.Total.Sums.RelativeNorm(0), 1e-6);
        Close(all.RelativeNorm(1), report.Total.Sums.RelativeNorm(1));
        Close(1.0 / 3, report.Total.Sums.SignConflictRate(0, 1));
    }

    [Fact]
    public void Linear_with_the_base_at_weight_zero_carries_a_third_of_each_of_three_task_vectors_projected()
    {
        var yaml = "merge_method: linear\nbase_model: base\ndtype: float32\nmodels:\n  - model: base\n    parameters: {weight: 0}\n"
                   + string.Concat(ModelNames.Select(m => $"  - model: {m}\n    parameters: {{weight: 1}}\n"));
        using var json = Analyze(yaml);
        var total = json.RootElement.GetProperty("total");
        var r = Sums(_ => true, merged: n => Enumerable.Range(0, _fx.Base[n].Length).Select(k => ModelNames.Sum(m => _fx.Deltas[m][n][k]) / 3).ToArray());
        for (int i = 0; i < 3; i++) Close(r.MethodDots[i] / r.Squares[i], At(total, "methodRetained", i), 1e-6);
        // The base is no task model.
        Assert.Equal(3, json.RootElement.GetProperty("models").GetArrayLength());
    }

    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(1.0, 1.0)]
    public void Slerp_carries_none_of_the_other_model_at_t_0_and_all_of_it_at_t_1(double t, double expected)
    {
        var yaml = $"merge_method: slerp\nbase_model: base\ndtype: float32\nparameters: {{t: {t}}}\nmodels:\n  - model: base\n  - model: a\n";
        using var json = Analyze(yaml);
        Close(expected, At(json.RootElement.GetProperty("total"), "methodRetained", 0), 1e-6);
    }

    [Fact]
    public void A_definition_without_a_base_model_is_refused_with_its_location()
    {
        var yaml = "merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: b\n    parameters: {weight: 1}\n";
        var definition = MergeRunner.ParseDefinition(yaml, _fx.PathOf("merge.yaml"), out _);
        using var plan = MergeRunner.Plan(definition, new MergeOptions());
        var error = Assert.Throws<DefinitionErrorsException>(() => MergeAnalysis.Run(plan, new AnalysisOptions()));
        var d = Assert.Single(error.Diagnostics);
        Assert.Equal(MergeAnalysis.NoBaseId, d.Id);
        Assert.Equal(1, d.Location.Line);
        Assert.Contains("base_model", d.Hint);
    }

    [Fact]
    public void A_merged_model_that_lacks_a_tensor_is_refused_before_reading()
    {
        var partial = _fx.PathOf("partial");
        Directory.CreateDirectory(partial);
        foreach (var f in Directory.GetFiles(_fx.PathOf("a"))) File.Copy(f, Path.Combine(partial, Path.GetFileName(f)));
        // A model of another definition: one tensor renamed away.
        var definition = MergeRunner.ParseDefinition(Definition("task_arithmetic"), _fx.PathOf("merge.yaml"), out _);
        using var plan = MergeRunner.Plan(definition, new MergeOptions());
        var renamed = plan.WithJobs(plan.Jobs.Select(j => j.OutputName == "lm_head.weight" ? j with { OutputName = "lm_head.extra" } : j).ToList());
        var error = Assert.Throws<MergeException>(() => MergeAnalysis.Run(renamed, new AnalysisOptions { MergedDirectory = partial }));
        Assert.Equal(MergeErrorKind.Input, error.Kind);
        Assert.Contains(MergeAnalysis.MergedMismatchId, error.Message);
        Assert.Contains("lm_head.extra", error.Message);
    }

    [Fact]
    public void A_layer_moved_twice_its_median_is_listed_as_far()
    {
        static PartFigures Part(string name, double baseSquares, double deltaSquares)
        {
            var s = new DeltaSums(1) { BaseSquares = baseSquares, Elements = 1 };
            s.DeltaSquares[0] = deltaSquares;
            return new PartFigures(name, s);
        }
        // Relative norms 0.1, 0.1, 0.3 (3x the median) and an untouched layer (0: not part of the median).
        var layers = new[] { Part("layer 0", 1, 0.01), Part("layer 1", 1, 0.01), Part("layer 2", 1, 0.09), Part("layer 3", 1, 0) };
        var far = MergeAnalysis.FarParts(["m"], layers, [Part("embeddings", 1, 0.04), Part("mlp", 1, 1)]);
        Assert.Equal(["layer 2", "embeddings"], far.Select(f => f.Part));
        Close(3, far[0].Ratio);
        Close(0.1, far[0].MedianLayerNorm);
    }

    public void Dispose() => _fx.Dispose();
}

/// <summary>The vectorised count of changed and conflicting elements against a plain loop written here.</summary>
public sealed class ChangeCountTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(1000)]
    [InlineData(65536 + 3)]
    public void Counts_match_a_scalar_reference_with_zeros_and_negative_zeros(int length)
    {
        var rng = new Random(length);
        float Draw() => rng.Next(5) switch { 0 => 0f, 1 => -0f, 2 => -(float)rng.NextDouble() - 1e-3f, _ => (float)rng.NextDouble() + 1e-3f };
        var x = Enumerable.Range(0, length).Select(_ => Draw()).ToArray();
        var y = Enumerable.Range(0, length).Select(_ => Draw()).ToArray();
        long both = 0, conflicts = 0;
        for (int k = 0; k < length; k++)
        {
            double a = x[k], b = y[k];
            if (a == 0 || b == 0) continue;
            both++;
            if (a < 0 != b < 0) conflicts++;
        }
        Assert.Equal((both, conflicts), TensorAnalyzer.CountChanges(x, y));
    }
}
