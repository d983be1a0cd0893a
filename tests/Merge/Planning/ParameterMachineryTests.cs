using System.Globalization;
using System.Text;
using DotnetMerge.Definitions;
using DotnetMerge.Demo;
using DotnetMerge.Engine;
using DotnetMerge.Planning;

namespace DotnetMerge.Tests.Planning;

/// <summary>For every method of the catalog and every one of its numeric and boolean parameters: a filter list whose
/// `mlp` entry is a gradient (or a step list) and whose catch-all is a scalar reaches the tensor jobs with the
/// hand-computed value for each layer and tensor — per-model parameters on that model's input, method-wide ones in the
/// job's global parameters.</summary>
public sealed class ParameterMachineryTests : IClassFixture<ParameterMachineryTests.Models>
{
    private const int Layers = 3; // t = 0, 0.5, 1 for layers 0, 1, 2

    public sealed class Models : IDisposable
    {
        public string Root { get; } = Path.Combine(Path.GetTempPath(), "dotnet-merge-tests", "params-" + Guid.NewGuid().ToString("N"));

        public Models()
        {
            var spec = new LlamaSpec(Layers: Layers, Hidden: 8, Intermediate: 16, Vocab: 16, Heads: 2, KvHeads: 1);
            SyntheticModels.WriteBaseAsync(Path.Combine(Root, "base"), spec).GetAwaiter().GetResult();
            foreach (var (name, seed) in new[] { ("a", 1UL), ("b", 2UL), ("c", 3UL) })
                SyntheticModels.WriteFineTuneAsync(Path.Combine(Root, name), spec, new FineTune(name, "", 0, 0.1, 1, seed)).GetAwaiter().GetResult();
        }

        public void Dispose()
        {
            try { Directory.Delete(Root, true); } catch (IOException) { }
        }
    }

    private readonly Models _models;

    public ParameterMachineryTests(Models models) => _models = models;

    public static IEnumerable<object[]> Cases()
        => MethodCatalog.All.SelectMany(m => m.Parameters
            .Where(p => p.Type is ParameterType.Number or ParameterType.Boolean && !p.Ignored)
            .Select(p => new object[] { m.Name, p.Name }));

    [Theory]
    [MemberData(nameof(Cases))]
    public void FilteredGradientReachesEveryTensorJob(string methodName, string parameterName)
    {
        var method = MethodCatalog.Find(methodName)!;
        var parameter = method.Parameters.Single(p => p.Name == parameterName);
        bool boolean = parameter.Type == ParameterType.Boolean;
        string setting = boolean
            ? "\n      - filter: mlp\n        value: [false, false, true]\n      - value: true"
            : "\n      - filter: mlp\n        value: [0.2, 0.4]\n      - value: 0.3";

        var (yaml, subject) = Definition(method, parameter, setting);
        var path = Path.Combine(_models.Root, $"{methodName}-{parameterName}.yaml");
        File.WriteAllText(path, yaml);
        var definition = MergeRunner.LoadDefinition(path, out var diagnostics);
        Assert.DoesNotContain(diagnostics, d => d.IsError);
        using var plan = MergeRunner.Plan(definition, new MergeOptions());

        object Expected(int layer, bool mlp) => boolean
            ? (object)(mlp ? layer == 2 : true)
            : mlp ? 0.2 + 0.2 * layer / (Layers - 1.0) : 0.3;

        foreach (var (tensor, layer, mlp) in new[]
                 {
                     ("model.layers.0.mlp.up_proj.weight", 0, true),
                     ("model.layers.1.mlp.down_proj.weight", 1, true),
                     ("model.layers.2.mlp.gate_proj.weight", 2, true),
                     ("model.layers.2.self_attn.q_proj.weight", 2, false),
                     ("model.embed_tokens.weight", 0, false),
                 })
        {
            var job = plan.Jobs.Single(j => j.OutputName == tensor);
            var bag = parameter.Scope == ParameterScope.Global
                ? job.Global
                : job.Inputs.Single(i => i.Model.Name == subject).Parameters;
            var expected = Expected(layer, mlp);
            if (boolean) Assert.Equal((bool)expected, bag.GetBool(parameterName));
            else Assert.Equal((double)expected, bag.GetDouble(parameterName), 12);
        }
    }

    /// <summary>A valid definition for the method, with the parameter under test set to <paramref name="setting"/>
    /// (top level for method-wide parameters, on the first non-base model otherwise) and every other required
    /// parameter set to a plain value. Returns the YAML and the model the per-model setting is on.</summary>
    private static (string Yaml, string Subject) Definition(MethodDescriptor method, ParameterDescriptor parameter, string setting)
    {
        bool hasBase = method.BaseRule != BaseModelRule.NotUsed;
        int others = method.Name == "passthrough" ? 1 : Math.Min(method.MaxModels ?? 3, Math.Max(method.MinModels, 2));
        var models = new List<string>();
        if (method.BaseRule == BaseModelRule.RequiredAmongInputs) models.Add("base");
        models.AddRange(new[] { "a", "b", "c" }.Take(others));
        string subject = models.First(m => m != "base");

        var sb = new StringBuilder();
        sb.Append("merge_method: ").Append(method.Name).Append('\n');
        if (hasBase) sb.Append("base_model: base\n");
        if (method.Name == "passthrough")
            sb.Append("slices:\n  - sources:\n      - model: ").Append(subject).Append("\n        layer_range: [0, ").Append(Layers).Append("]\n");
        else sb.Append("models:\n");
        foreach (var model in method.Name == "passthrough" ? new List<string>() : models)
        {
            sb.Append("  - model: ").Append(model).Append('\n');
            var perModel = method.Parameters.Where(p => p.Scope == ParameterScope.PerModel && (p.Required || p == parameter)).ToList();
            if (model == "base" && method.BaseRule != BaseModelRule.NotUsed) perModel.RemoveAll(p => p != parameter);
            if (perModel.Count == 0 || (model == "base" && !perModel.Contains(parameter))) continue;
            sb.Append("    parameters:\n");
            foreach (var p in perModel)
                sb.Append("      ").Append(p.Name).Append(": ")
                  .Append(p == parameter && model == subject ? setting.Replace("\n", "\n    ", StringComparison.Ordinal) : "1")
                  .Append('\n');
        }
        sb.Append("parameters:\n");
        if (method.Name == "passthrough" && parameter.Scope == ParameterScope.PerModel)
            sb.Append("  ").Append(parameter.Name).Append(':').Append(setting.Replace("\n", "\n", StringComparison.Ordinal)).Append('\n');
        foreach (var p in method.Parameters.Where(p => p.Scope == ParameterScope.Global && (p.Required || p == parameter)))
            sb.Append("  ").Append(p.Name).Append(':').Append(p == parameter ? setting : " 0.5").Append('\n');
        return (sb.ToString(), subject);
    }
}
