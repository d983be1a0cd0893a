using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace DotnetMerge.Tool.Tests;

/// <summary>`tune` on the demo's models finds a known optimum. The evaluator is the example of docs/tune.md
/// (docs/tune/distance_eval.py): minus the relative distance of the candidate from base + 0.75·δchat + 0.25·δmath +
/// 0.5·δcode, so a task-arithmetic search over chat's and math's weights (code's fixed at 0.5) peaks at (0.75, 0.25).
/// The score the script gives the best model is checked against a float64 computation written here.</summary>
public sealed class TuneDemoTests : IDisposable
{
    private readonly TestWorkspace _ws = new();
    private const double Chat = 0.75, Math_ = 0.25, Code = 0.5;

    public void Dispose() => _ws.Dispose();

    private const string Definition = """
        merge_method: task_arithmetic
        base_model: models/base
        models:
          - model: models/chat
            parameters:
              weight: {search: [0.0, 1.0]}
          - model: models/math
            parameters:
              weight: {search: [0.0, 1.0]}
          - model: models/code
            parameters:
              weight: 0.5
        dtype: bfloat16
        """;

    private static string Evaluator(string demo)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "Tuning", "distance_eval.py");
        string Model(string name) => "'" + Path.Combine(demo, "models", name) + "'";
        return string.Create(CultureInfo.InvariantCulture,
            $"python3 '{script}' {{model}} --base {Model("base")} --target {Model("chat")}={Chat} --target {Model("math")}={Math_} --target {Model("code")}={Code}");
    }

    private static bool HasPython()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("python3", "--version") { RedirectStandardOutput = true, RedirectStandardError = true })!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }

    /// <summary>The best trial of a trial log: its searched values and score.</summary>
    private static (double[] Values, double Score) Best(string log)
        => File.ReadLines(log).Skip(1).Select(l => JsonNode.Parse(l)!.AsObject()).Where(o => o["score"] is not null)
            .Select(o => (o["values"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray(), o["score"]!.GetValue<double>()))
            .MaxBy(t => t.Item2);

    /// <summary>−‖out − target‖ / ‖target − base‖ over every tensor, float64, bf16 decoded by the test.</summary>
    private static double Score(string demo, string output)
    {
        double distance = 0, moved = 0;
        foreach (var (name, _) in new DotnetMerge.Demo.LlamaSpec().Tensors())
        {
            double[] Read(string dir) => TestWorkspace.ReadTensor(dir, name);
            var b = Read(Path.Combine(demo, "models", "base"));
            var (chat, math, code, o) = (Read(Path.Combine(demo, "models", "chat")), Read(Path.Combine(demo, "models", "math")), Read(Path.Combine(demo, "models", "code")), Read(output));
            for (int i = 0; i < b.Length; i++)
            {
                double delta = Chat * (chat[i] - b[i]) + Math_ * (math[i] - b[i]) + Code * (code[i] - b[i]);
                distance += (o[i] - b[i] - delta) * (o[i] - b[i] - delta);
                moved += delta * delta;
            }
        }
        return -Math.Sqrt(distance / moved);
    }

    [SkippableTheory]
    [InlineData("grid", 25, 0.0)]      // 5 points per range: 0, 0.25, 0.5, 0.75, 1 hold the optimum exactly
    [InlineData("cma-es", 30, 0.05)]   // 5 generations of 6: within 0.05 of it (seed 1 comes to 0.015)
    public async Task Tune_on_the_demo_finds_the_known_optimum(string strategy, int budget, double tolerance)
    {
        Skip.If(OperatingSystem.IsWindows(), "the evaluator is run through /bin/sh with POSIX quoting");
        Skip.IfNot(HasPython(), "python3 is not installed (the example evaluator is a Python script)");
        var demo = _ws.PathOf("demo");
        var made = await CliRunner.RunAsync("demo", demo, "--no-progress");
        Assert.True(made.ExitCode == 0, made.ToString());
        var config = _ws.Write("demo/tune-demo.yaml", Definition + "\n");
        var output = _ws.PathOf("best");
        var r = await CliRunner.RunAsync("tune", config, "--eval", Evaluator(demo), "--budget", budget.ToString(CultureInfo.InvariantCulture),
            "--strategy", strategy, "--seed", "1", "--parallel", "2", "-o", output, "--no-progress");
        Assert.True(r.ExitCode == 0, r.ToString());

        var (values, score) = Best(output + ".tune.jsonl");
        double error = Math.Sqrt((values[0] - Chat) * (values[0] - Chat) + (values[1] - Math_) * (values[1] - Math_));
        Assert.True(error <= tolerance + 1e-12, $"{strategy}: best ({values[0]}, {values[1]}) is {error} from ({Chat}, {Math_})");
        // The evaluator's score of the model written to OUT (the best candidate merged again) is the distance computed here.
        Assert.Equal(Score(demo, output), score, 9);
        Assert.True(score > -0.05, $"the best score {score}: bf16 rounding alone should keep it within 5 % of the target's distance");
    }
}
