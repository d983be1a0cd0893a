using DotnetMerge.Definitions;
using DotnetMerge.Demo;
using DotnetMerge.Engine;
using DotnetMerge.Numerics;
using DotnetMerge.Plans;
using DotnetMerge.Safetensors;
using Microsoft.CodeAnalysis;

namespace DotnetMerge.Generators.Tests;

/// <summary>The runtime side of typed plans: overrides applied to definitions, validation of overridden values, and a
/// generated plan compiled and run in-process against synthetic models, checked against a float64 reference.</summary>
public class PlanRuntimeTests
{
    private const string SlicesYaml = """
        merge_method: linear
        slices:
          - sources:
              - model: ./models/a
                layer_range: [0, 2]
                parameters: {weight: [0.1, 0.9]}
              - model: ./models/b
                layer_range: [0, 2]
            parameters:
              weight: 0.5
              normalize: false
        parameters:
          normalize: true
        """;

    [Fact]
    public void Global_override_replaces_slice_settings_and_per_model_override_replaces_gradients()
    {
        var definition = MergeRunner.ParseDefinition(SlicesYaml, "/x/s.merge.yaml", out _);
        var a = new PlanModel("./models/a", "A");
        var b = new PlanModel("./models/b", "B");
        var overrides = PlanOverrides.Empty.WithGlobal("normalize", false).WithPerModel(a, "weight", 0.25).WithPerModel(b, "weight", 2);

        var result = DefinitionOverrides.Apply(definition, overrides);

        Assert.Equal(false, Assert.IsType<ScalarSetting>(result.Parameters["normalize"]).Value);
        var slice = Assert.Single(result.Slices!);
        Assert.False(slice.Parameters.ContainsKey("normalize"));
        Assert.Equal(0.5, Assert.IsType<ScalarSetting>(slice.Parameters["weight"]).Value); // untouched slice-level weight
        Assert.Equal(0.25, Assert.IsType<ScalarSetting>(slice.Sources[0].Parameters["weight"]).Value);
        Assert.Equal(2.0, Assert.IsType<ScalarSetting>(slice.Sources[1].Parameters["weight"]).Value); // int stored as a number
        Assert.Equal((0, 2), (slice.Sources[1].LayerStart, slice.Sources[1].LayerEnd));
        Assert.DoesNotContain(DefinitionValidator.Validate(result), d => d.IsError);
        // The original is unchanged.
        Assert.IsType<GradientSetting>(definition.Slices![0].Sources[0].Parameters["weight"]);
    }

    [Fact]
    public void Overrides_reach_every_module_a_model_is_merged_in()
    {
        var yaml = File.ReadAllText(Path.Combine(GeneratorHarness.SourceDirectory(), "Definitions", "vlm-modules.merge.yaml"));
        var definition = MergeRunner.ParseDefinition(yaml, "/x/vlm-modules.merge.yaml", out _);
        var ocr = new PlanModel("./models/vlm-ocr", "VlmOcr");
        var result = DefinitionOverrides.Apply(definition, PlanOverrides.Empty.WithGlobal("normalize", false).WithGlobal("weight", 0.9).WithPerModel(ocr, "weight", 0.2));

        var text = result.Modules![0];
        var vision = result.Modules[1];
        Assert.Equal(0.2, Assert.IsType<ScalarSetting>(text.Models![1].Parameters["weight"]).Value);
        Assert.Equal(0.7, Assert.IsType<ScalarSetting>(text.Models[0].Parameters["weight"]).Value); // another model: untouched
        Assert.All(vision.Slices!.SelectMany(s => s.Sources).Where(s => s.Model.Path == "./models/vlm-ocr"),
            s => Assert.Equal(0.2, Assert.IsType<ScalarSetting>(s.Parameters["weight"]).Value));
        // A method-wide override is set at the top level and leaves the modules' own values, so it applies everywhere.
        Assert.False(vision.Parameters.ContainsKey("weight"));
        Assert.All(vision.Slices!, s => Assert.Same(vision.Parameters, s.ModuleParameters));
        Assert.Equal(0.9, Assert.IsType<ScalarSetting>(result.Parameters["weight"]).Value);
        Assert.DoesNotContain(DefinitionValidator.Validate(result), d => d.IsError);
        // Written back (the output's record of the changed definition), it reads as the same modules.
        var again = MergeRunner.ParseDefinition(DefinitionWriter.Write(result), "/x/again.merge.yaml", out _);
        Assert.Equal(new[] { "text_decoder", "vision_tower" }, again.Modules!.Select(m => m.Name));
    }

    [Fact]
    public void Out_of_range_override_fails_with_the_validators_diagnostic()
    {
        const string yaml = """
            merge_method: ties
            base_model: ./models/base
            models:
              - model: ./models/a
                parameters: {weight: 1.0, density: 0.5}
            """;
        var plan = new HandWrittenPlan(yaml, "/x/t.merge.yaml", PlanOverrides.Empty)
            .With(new PlanModel("./models/a", "A"), "density", -0.5);

        var error = Assert.Throws<DefinitionErrorsException>(() => plan.BuildDefinition());
        Assert.Contains(error.Diagnostics, d => d.Id == "DMRG0303");
        // The error names the override and its model (the override has no line in the YAML).
        Assert.StartsWith("the override of 'density' for model './models/a': error DMRG0303:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Searched_value_must_be_set_by_an_override_before_running()
    {
        const string yaml = """
            merge_method: ties
            base_model: ./models/base
            models:
              - model: ./models/a
                parameters: {weight: {search: [0.2, 1.0]}, density: 0.5}
            """;
        var plan = new HandWrittenPlan(yaml, "/x/t.merge.yaml", PlanOverrides.Empty);
        var error = Assert.Throws<DefinitionErrorsException>(() => plan.BuildDefinition());
        var d = Assert.Single(error.Diagnostics, x => x.IsError);
        Assert.Equal("DMRG0330", d.Id);
        Assert.Equal((5, 26), (d.Location.Line, d.Location.Column));

        var set = plan.With(new PlanModel("./models/a", "A"), "weight", 0.7).BuildDefinition();
        Assert.Equal(0.7, Assert.IsType<ScalarSetting>(set.Models![0].Parameters["weight"]).Value);
        Assert.DoesNotContain(DefinitionValidator.Validate(set), x => x.IsError);
        // The value set is checked like any value.
        var negative = plan.With(new PlanModel("./models/a", "A"), "weight", 0.7).With(new PlanModel("./models/a", "A"), "density", -1.0);
        Assert.Equal("DMRG0303", Assert.Single(Assert.Throws<DefinitionErrorsException>(() => negative.BuildDefinition()).Diagnostics, x => x.IsError).Id);
    }

    [Fact]
    public void Override_of_a_model_the_definition_does_not_merge_is_an_error_naming_it()
    {
        const string yaml = """
            merge_method: linear
            models:
              - model: ./models/a
                parameters: {weight: 1.0}
            """;
        var plan = new HandWrittenPlan(yaml, "/x/l.merge.yaml", PlanOverrides.Empty).With(new PlanModel("./models/b", "B"), "weight", 0.5);

        var error = Assert.Throws<DefinitionErrorsException>(() => plan.BuildDefinition());
        Assert.Equal("DMRG0910", Assert.Single(error.Diagnostics).Id);
        Assert.Equal(MergeErrorKind.Definition, error.Kind);
        Assert.Equal("the override of 'weight' for model './models/b': error DMRG0910: the override is for model './models/b', which the definition "
            + "does not merge; its input models are './models/a'; use a model of the generated Models class", error.Message);
    }

    /// <summary>Overrides hold their values typed (no object), read back as their own type, and say what they hold when
    /// read as another.</summary>
    [Fact]
    public void Override_values_are_stored_typed_and_read_back_as_their_type()
    {
        var a = new PlanModel("./models/a", "A");
        var overrides = PlanOverrides.Empty.WithGlobal("lambda", 0.9).WithGlobal("normalize", true).WithGlobal("trim_scope", "model").WithPerModel(a, "weight", 2);

        var lambda = overrides.Globals["lambda"];
        Assert.Equal(ParameterValueKind.Number, lambda.Kind);
        Assert.Equal(0.9, lambda.As<double>());
        Assert.Equal(0.9, lambda.As<double?>());
        Assert.True(overrides.Globals["normalize"].As<bool>());
        Assert.Equal("model", overrides.Globals["trim_scope"].As<string>());
        var weight = overrides.PerModel[("./models/a", "weight")];
        Assert.Equal(ParameterValueKind.Integer, weight.Kind);
        Assert.Equal(2.0, weight.As<double>()); // an integer reads as a number
        Assert.Equal(2.0, weight.ToSettingValue());
        var mismatch = Assert.Throws<InvalidCastException>(() => lambda.As<bool>());
        Assert.Equal("DMRG0912: the override holds a number (0.9), not Boolean", mismatch.Message);
        Assert.Throws<InvalidCastException>(() => overrides.Globals["trim_scope"].As<double>());

        Assert.Equal(overrides, PlanOverrides.Empty.WithPerModel(a, "weight", 2).WithGlobal("trim_scope", "model").WithGlobal("normalize", true).WithGlobal("lambda", 0.9));
        Assert.NotEqual(overrides, overrides.WithGlobal("lambda", 0.8));
        Assert.NotEqual(ParameterValue.Of(1), ParameterValue.Of(1.0)); // kinds differ
        Assert.Throws<ArgumentNullException>(() => ParameterValue.Of((string)null!));
    }

    [Fact]
    public async Task Generated_plan_runs_with_overrides_and_matches_a_float64_reference()
    {
        var root = Directory.CreateTempSubdirectory("dmrg-plan-").FullName;
        try
        {
            var spec = new LlamaSpec(Layers: 2, Hidden: 16, Intermediate: 32, Vocab: 64, Heads: 2, KvHeads: 1);
            await SyntheticModels.WriteBaseAsync(Path.Combine(root, "models", "a"), spec);
            await SyntheticModels.WriteFineTuneAsync(Path.Combine(root, "models", "b"), spec, new FineTune("b", "mlp", 0, 0.5, 1.0, 7));
            var yamlPath = Path.Combine(root, "blend.merge.yaml");
            const string yaml = """
                merge_method: linear
                models:
                  - model: ./models/a
                    parameters: {weight: 0.5}
                  - model: ./models/b
                    parameters: {weight: 0.5}
                parameters:
                  normalize: false
                dtype: float32
                """;
            var run = GeneratorHarness.Run(new[] { new DefinitionFile(yamlPath, yaml) });
            Assert.Empty(run.GeneratorDiagnostics);
            var assembly = run.Load();
            var planType = assembly.GetType("Sample.BlendMergePlan")!;
            dynamic plan = Activator.CreateInstance(planType)!;
            plan = plan.WithDefinitionPath(yamlPath); // loaded from bytes: no assembly directory to find the definition from
            plan = plan.WithAWeight(0.25);
            plan = plan.WithBWeight(1.5);
            Assert.Equal(0.25, (double)plan.A.Weight);

            var output = Path.Combine(root, "out");
            MergeRunner.MergeResult result = await plan.RunAsync(output, new MergeOptions { Threads = 1, WriteModelCard = false });
            Assert.True(result.TensorCount > 0);

            using var ca = ModelCheckpoint.Open(Path.Combine(root, "models", "a"));
            using var cb = ModelCheckpoint.Open(Path.Combine(root, "models", "b"));
            using var co = ModelCheckpoint.Open(output);
            foreach (var name in co.TensorNames)
            {
                var va = Read(ca, name);
                var vb = Read(cb, name);
                var vo = Read(co, name);
                for (var i = 0; i < vo.Length; i++)
                {
                    var expected = (float)((0.25 * va[i]) + (1.5 * vb[i])); // normalize: false, weights as overridden
                    Assert.True(Math.Abs(expected - vo[i]) <= 1e-6 * Math.Max(1, Math.Abs(expected)), $"{name}[{i}]: {vo[i]} != {expected}");
                }
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Per-model parameter types: a gradient on one model makes only that model's weight nullable. Plans are
    /// records: <c>with</c> on the plan and on a model's parameters overrides like the With methods, and plans that merge
    /// the same compare equal (setting a value back to the definition's removes the override).</summary>
    [Fact]
    public void Plans_are_records_with_per_model_types()
    {
        const string yaml = """
            merge_method: ties
            base_model: ./models/base
            models:
              - model: ./models/math
                parameters: {weight: [0.2, 0.8], density: 0.5}
              - model: ./models/code
                name: coder          # the member name (a dotnet-merge extension)
                parameters: {weight: 0.5, density: 0.5}
            """;
        const string user = """
            using Sample;
            public static class Probe
            {
                public static string Run()
                {
                    var plan = new MixMergePlan();
                    double code = plan.Coder.Weight;            // a plain double: only MathModel has a gradient; named by name:
                    double? math = plan.MathModel.Weight;      // null: a gradient
                    var edited = plan with { Lambda = 0.9, Coder = plan.Coder with { Weight = 0.75 } };
                    var same = plan.WithLambda(0.9).WithCoderWeight(0.75);
                    var back = edited with { Lambda = 1.0, Coder = edited.Coder with { Weight = 0.5 } };
                    var scoped = plan with { TrimScope = MixMergePlan.TrimScopeOption.Model }; // an enum, stored as 'model'
                    return string.Join(" ", code, math is null, edited.Coder.Weight, edited.Lambda, edited == same,
                        back == plan, edited.Overrides.PerModel.Count, back.Overrides.IsEmpty, plan.TrimScope, scoped.TrimScope,
                        scoped.Overrides.Globals["trim_scope"], scoped == plan.WithTrimScope(MixMergePlan.TrimScopeOption.Model),
                        (scoped with { TrimScope = MixMergePlan.TrimScopeOption.Tensor }).Overrides.IsEmpty);
                }
            }
            """;
        var run = GeneratorHarness.Run(new[] { new DefinitionFile(GeneratorHarness.PathOf("mix.merge.yaml"), yaml) }, null, user);
        Assert.Empty(run.GeneratorDiagnostics);

        var probe = run.Load().GetType("Probe")!;
        var result = (string)probe.GetMethod("Run")!.Invoke(null, null)!;

        Assert.Equal("0.5 True 0.75 0.9 True True 1 True Tensor Model model True True", result);
    }

    /// <summary><c>rescale</c> (false | true | l1 | inverse in the YAML) is one enum: false is None, true and l1 are L1; an
    /// override stores what mergekit would read (true for L1) and the definition built from it holds that value.</summary>
    [Fact]
    public void Rescale_is_an_enum_whose_overrides_store_the_yaml_value()
    {
        const string yaml = """
            merge_method: dare_ties
            base_model: ./models/base
            models:
              - model: ./models/a
                parameters: {weight: 1.0, density: 0.5}
            parameters:
              rescale: l1
            """;
        const string user = """
            using Sample;
            public static class Probe
            {
                public static object[] Run()
                {
                    var plan = new DareMergePlan();
                    DareMergePlan.RescaleOption rescale = plan.Rescale;   // not nullable: 'l1' is one of its values
                    var inverse = plan.WithRescale(DareMergePlan.RescaleOption.Inverse);
                    var none = plan with { Rescale = DareMergePlan.RescaleOption.None };
                    var back = inverse with { Rescale = DareMergePlan.RescaleOption.L1 };
                    return new object[] { rescale, inverse.Rescale, inverse.Overrides.Globals["rescale"], none.Rescale, none.Overrides.Globals["rescale"],
                        back == plan, back.Overrides.IsEmpty, plan.WithRescale(DareMergePlan.RescaleOption.L1).Overrides.Globals["rescale"],
                        inverse.BuildDefinition(), none.BuildDefinition() };
                }
            }
            """;
        var run = GeneratorHarness.Run(new[] { new DefinitionFile(GeneratorHarness.PathOf("dare.merge.yaml"), yaml) }, null, user);
        Assert.Empty(run.GeneratorDiagnostics);

        var result = (object[])run.Load().GetType("Probe")!.GetMethod("Run")!.Invoke(null, null)!;

        Assert.Equal("L1 Inverse inverse None false True True true", string.Join(" ", result.Take(8)));
        Assert.Equal("inverse", Assert.IsType<ScalarSetting>(((MergeDefinition)result[8]).Parameters["rescale"]).Value);
        Assert.Equal(false, Assert.IsType<ScalarSetting>(((MergeDefinition)result[9]).Parameters["rescale"]).Value);
    }

    /// <summary>The merged model's records (mergekit_config.yml, the model card) are the definition that was merged:
    /// overrides applied. Without overrides the user's own text is kept, comments included.</summary>
    [Fact]
    public async Task Output_records_the_overridden_definition_and_keeps_the_text_without_overrides()
    {
        var root = Directory.CreateTempSubdirectory("dmrg-plan-").FullName;
        try
        {
            var spec = new LlamaSpec(Layers: 2, Hidden: 16, Intermediate: 32, Vocab: 64, Heads: 2, KvHeads: 1);
            await SyntheticModels.WriteBaseAsync(Path.Combine(root, "models", "base"), spec);
            await SyntheticModels.WriteFineTuneAsync(Path.Combine(root, "models", "math"), spec, new FineTune("math", "mlp", 0, 0.5, 1.0, 7));
            const string yaml = """
                # task arithmetic over one fine-tune
                merge_method: task_arithmetic
                base_model: ./models/base
                models:
                  - model: ./models/math
                    parameters: {weight: 0.8}
                parameters:
                  lambda: 1.0
                dtype: float32
                """;
            var path = Path.Combine(root, "ta.merge.yaml");
            var math = new PlanModel("./models/math", "Math");
            var plan = new HandWrittenPlan(yaml, path, PlanOverrides.Empty).With(math, "weight", 0.6).WithGlobal("lambda", 0.9);

            var output = Path.Combine(root, "out");
            await plan.RunAsync(output, new MergeOptions { Threads = 1 });

            var recorded = MergeRunner.ParseDefinition(File.ReadAllText(Path.Combine(output, "mergekit_config.yml")), path, out _);
            Assert.Equal(0.6, Assert.IsType<ScalarSetting>(Assert.Single(recorded.Models!).Parameters["weight"]).Value);
            Assert.Equal(0.9, Assert.IsType<ScalarSetting>(recorded.Parameters["lambda"]).Value);
            var card = File.ReadAllText(Path.Combine(output, "README.md"));
            Assert.Contains("weight: 0.6", card, StringComparison.Ordinal);
            Assert.Contains("lambda: 0.9", card, StringComparison.Ordinal);
            Assert.DoesNotContain("0.8", card, StringComparison.Ordinal);

            // A second run into the same directory is refused in the library's terms.
            var again = await Assert.ThrowsAsync<MergeException>(() => plan.RunAsync(output, new MergeOptions { Threads = 1 }));
            Assert.Contains("MergeOptions.Force", again.Message, StringComparison.Ordinal);

            var plain = Path.Combine(root, "plain");
            await new HandWrittenPlan(yaml, path, PlanOverrides.Empty).RunAsync(plain, new MergeOptions { Threads = 1 });
            Assert.Equal(yaml, File.ReadAllText(Path.Combine(plain, "mergekit_config.yml")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static float[] Read(ModelCheckpoint checkpoint, string name)
    {
        Assert.True(checkpoint.TryGetTensor(name, out var info, out var file), name);
        var bytes = new byte[info.ByteLength];
        file.ReadTensor(info, bytes);
        var values = new float[info.ElementCount];
        DtypeConversion.Decode(info.Dtype, bytes, 0, values);
        return values;
    }

    private sealed record HandWrittenPlan(string Yaml, string Path, PlanOverrides InitialOverrides) : TypedMergePlan<HandWrittenPlan>(Yaml, Path, InitialOverrides)
    {
        public HandWrittenPlan With(PlanModel model, string name, ParameterValue value) => SetPerModel(model, name, value);

        public HandWrittenPlan WithGlobal(string name, ParameterValue value) => SetGlobal(name, value);
    }
}
