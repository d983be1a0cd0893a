using System.Text;

namespace DotnetMerge.Generators.Tests;

/// <summary>Generated code compared text-exactly with Baselines/*.g.cs (set DOTNET_MERGE_UPDATE_BASELINES=1 to rewrite
/// them), and compiled with the generated API used from C#, with zero diagnostics.</summary>
public class BaselineTests
{
    public static TheoryData<string, string, string> Cases => new()
    {
        {
            "linear.merge.yaml", "LinearMergePlan",
            """
            using Sample;
            internal static class Use
            {
                public static double Run()
                {
                    var plan = new LinearMergePlan().WithChatAssistantWeight(0.5).WithNormalize(false);
                    bool normalize = plan.Normalize;
                    string yaml = LinearMergePlan.DefinitionYaml;
                    DotnetMerge.Plans.PlanModel code = LinearMergePlan.Models.Code;
                    return plan.ChatAssistant.Weight + plan.Code.Weight + (normalize ? 1 : 0) + yaml.Length + code.Name.Length;
                }
            }
            """
        },
        {
            "ties-gradients.merge.yaml", "TiesGradientsMergePlan",
            """
            using Sample;
            internal static class Use
            {
                public static double Run()
                {
                    var plan = new TiesGradientsMergePlan().WithMathModelWeight(0.25).WithLambda(1.0);
                    TiesGradientsMergePlan.MathModelParameters math = plan.MathModel; // "Math" would hide System.Math
                    double? mathWeight = math.Weight;
                    double density = plan.Code.Density;
                    var edited = plan with { Lambda = 0.9, Code = plan.Code with { Density = 0.6 } };
                    bool same = edited == plan.WithLambda(0.9).WithCodeDensity(0.6);
                    TiesGradientsMergePlan.TrimScopeOption scope = plan.WithTrimScope(TiesGradientsMergePlan.TrimScopeOption.Model).TrimScope;
                    return (mathWeight ?? 0) + density + plan.Lambda + TiesGradientsMergePlan.Models.All.Count + (same ? 1 : 0) + (int)scope;
                }
            }
            """
        },
        {
            "slerp-slices.merge.yaml", "SlerpSlicesMergePlan",
            """
            using Sample;
            internal static class Use
            {
                public static double Run()
                {
                    var plan = new SlerpSlicesMergePlan();
                    double? t = plan.T;
                    return (t ?? plan.WithT(0.25).T ?? 0) + SlerpSlicesMergePlan.Models.Instruct.Reference.Length;
                }
            }
            """
        },
        {
            "stages.merge.yaml", "StagesMergePlan",
            """
            using Sample;
            internal static class Use
            {
                public static double Run()
                {
                    var plan = new StagesMergePlan();
                    StagesMergePlan.BlendStage blend = plan.Blend;          // stage 'blend': slerp
                    double t = blend.T;
                    StagesMergePlan.FinalStage final = plan.Final;          // the unnamed final document: dare_ties
                    double density = final.Code.Density;
                    DotnetMerge.Plans.PlanModel fromStage = StagesMergePlan.FinalStage.Models.Blend; // the output of stage 'blend'
                    var edited = plan.WithBlend(s => s.WithT(0.7)) with { Final = plan.Final with { Lambda = 0.5, Blend = plan.Final.Blend with { Weight = 0.3 } } };
                    bool same = edited == plan.WithBlend(s => s.WithT(0.7)).WithFinal(s => s.WithLambda(0.5).WithBlendWeight(0.3));
                    return t + density + final.Lambda + fromStage.Name.Length + (same ? 1 : 0) + StagesMergePlan.FinalStage.Method.Length;
                }
            }
            """
        },
        {
            "vlm-modules.merge.yaml", "VlmModulesMergePlan",
            """
            using Sample;
            internal static class Use
            {
                public static double Run()
                {
                    var plan = new VlmModulesMergePlan().WithChatWeight(0.6).WithNormalize(false);
                    double? chatWeight = plan.Chat.Weight;            // 0.7 in the text module, the vision module's 0.5 there: not one value
                    double? ocr = plan.VlmOcr.Weight;                 // 0.3 in the text module, 0.5 in the vision module
                    DotnetMerge.Plans.PlanModel chat = VlmModulesMergePlan.Models.Chat;
                    return (chatWeight ?? 0) + (ocr ?? 0) + (plan.Normalize ? 1 : 0) + chat.Name.Length + VlmModulesMergePlan.Models.All.Count;
                }
            }
            """
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Generated_code_matches_baseline_and_compiles_cleanly(string file, string className, string userCode)
    {
        var yaml = File.ReadAllText(Path.Combine(GeneratorHarness.SourceDirectory(), "Definitions", file));
        var run = GeneratorHarness.Run(GeneratorHarness.PathOf(file), yaml, userCode);

        Assert.Empty(run.GeneratorDiagnostics);
        var (hint, source) = Assert.Single(run.Sources);
        Assert.Equal("Sample." + className + ".g.cs", hint);
        // UTF-8 without a byte order mark, as a file on disk (EmitCompilerGeneratedFiles) would be written.
        var generated = Assert.Single(run.Driver.GetRunResult().Results.Single().GeneratedSources).SourceText;
        Assert.Equal("utf-8", generated.Encoding!.WebName);
        Assert.Empty(generated.Encoding.GetPreamble());
        AssertBaseline(className + ".g.cs", source);
        Assert.Empty(run.CompilationDiagnostics());
    }

    internal static void AssertBaseline(string name, string actual)
    {
        var path = Path.Combine(GeneratorHarness.SourceDirectory(), "Baselines", name);
        actual = actual.Replace("\r\n", "\n");
        if (Environment.GetEnvironmentVariable("DOTNET_MERGE_UPDATE_BASELINES") == "1")
        {
            File.WriteAllText(path, actual, new UTF8Encoding(false));
            return;
        }

        Assert.True(File.Exists(path), $"missing baseline {path}; run with DOTNET_MERGE_UPDATE_BASELINES=1 to create it");
        var expected = File.ReadAllText(path).Replace("\r\n", "\n");
        if (expected == actual)
            return;
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        var line = 0;
        while (line < Math.Min(e.Length, a.Length) && e[line] == a[line])
            line++;
        Assert.Fail($"generated code differs from {name} at line {line + 1}:\n  expected: {(line < e.Length ? e[line] : "<end>")}\n  actual:   {(line < a.Length ? a[line] : "<end>")}\n(set DOTNET_MERGE_UPDATE_BASELINES=1 to accept)");
    }
}
