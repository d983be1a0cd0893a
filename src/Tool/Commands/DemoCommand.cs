using System.CommandLine;
using System.Globalization;
using DotnetMerge.Demo;
using DotnetMerge.Engine;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge demo [DIR]</c>: writes a small llama-shaped base and three fine-tunes that differ from it in
/// known ways, merges them with a built-in task-arithmetic definition, and shows how much of each fine-tune's task
/// vector landed in which part of the merged model.</summary>
public static class DemoCommand
{
    public const string DefinitionText = """
        # dotnet-merge demo: add three specialists' task vectors to their base.
        # chat changed attention everywhere; math changed the MLPs of layers 2-3 a lot;
        # code repeats chat's attention change from layer 1 on with every 4th element's
        # sign reversed (a 25 % sign conflict), math's MLP change at a tenth of its size
        # (math is 10x code there), and a third of the norms. `dotnet merge analyze` shows it.
        merge_method: task_arithmetic
        base_model: models/base
        models:
          - model: models/chat
            parameters:
              weight: 1.0
          - model: models/math
            parameters:
              weight: 0.8
          - model: models/code
            parameters:
              weight:
                - filter: mlp
                  value: [0.5, 1.0]   # a gradient over depth: 0.5 at layer 0 up to 1.0 at the last layer
                - value: 0.7
        dtype: bfloat16
        """;

    /// <summary>The planted structure (docs/analyze.md, "The demo"): chat and code disagree in sign on a quarter of the
    /// attention elements both change; math's MLP change is ten times code's in layers 2-3.</summary>
    public static readonly FineTune[] FineTunes = Planted();

    public const int ReversedEvery = 4;
    public const double MathOverCode = 10;

    private static FineTune[] Planted()
    {
        var chat = new FineTune("chat", "self_attn", 0, 0.05, 1.0, 11);
        var math = new FineTune("math", "mlp", 2, 0.20, 1.0, 22);
        var code = new FineTune("code", "norm", 1, 0.05, 0.33, 33)
        {
            Echoes = [new Echo(chat, "self_attn", 1, 1.0, ReversedEvery), new Echo(math, "mlp", 2, 1 / MathOverCode)],
        };
        return [chat, math, code];
    }

    public static Command Create(ToolConsole console)
    {
        var command = new Command("demo", "Generate small example models (a llama-shaped base and three fine-tunes), merge them with a built-in definition and show what happened. Needs nothing else.");
        var directory = new Argument<DirectoryInfo>("directory")
        {
            Description = "Where to put the example (models/, merge.yaml, merged/). Default: ./dotnet-merge-demo",
            DefaultValueFactory = _ => new DirectoryInfo("dotnet-merge-demo"),
        };
        var options = new CommonOptions();
        command.Arguments.Add(directory);
        options.AddTo(command);
        command.SetAction((result, ct) =>
        {
            var verbosity = options.GetVerbosity(result);
            return Cli.Guard(console, verbosity, async () =>
            {
                var root = result.GetValue(directory)!.FullName;
                var mergeOptions = options.GetMergeOptions(result);
                var output = Path.Combine(root, "merged");
                var spec = new LlamaSpec();
                console.Out.WriteLine($"writing example models into {Path.Combine(root, "models")} (llama-shaped: {spec.Layers} layers, hidden {spec.Hidden}, vocab {spec.Vocab}, {spec.Dtype.HeaderName()})");
                await WriteModelsAsync(root, spec, mergeOptions.Force, ct);
                foreach (var ft in FineTunes)
                    console.Out.WriteLine($"  {ft.Name}: changes {string.Join("; ", SyntheticModels.Describe(ft))}");
                var definitionPath = Path.Combine(root, "merge.yaml");
                if (File.Exists(definitionPath) && File.ReadAllText(definitionPath) != DefinitionText + "\n" && !mergeOptions.Force)
                    throw new MergeException(MergeErrorKind.Output, ErrorIds.OutputLocation, $"'{definitionPath}' exists and is not the demo's definition; pass --force to replace it, or choose another directory");
                await File.WriteAllTextAsync(definitionPath, DefinitionText + "\n", ct);
                console.Out.WriteLine($"merging with {definitionPath}:");
                foreach (var line in DefinitionText.Split('\n')) console.Out.WriteLine("  | " + line);

                var definition = MergeRunner.LoadDefinition(definitionPath, out var diagnostics, cancellationToken: ct);
                Cli.PrintDiagnostics(console, diagnostics, verbosity);
                var reporter = new ProgressReporter(console, verbosity, !result.GetValue(options.NoProgress));
                var merged = await reporter.RunAsync(p => MergeRunner.RunAsync(definition, output, mergeOptions with { Force = true }, p, ct));
                console.Out.WriteLine($"merged {merged.TensorCount} tensors into {merged.OutputDirectory} in {merged.Stats.Elapsed.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture)} s");
                PrintShares(console.Out, root, merged.OutputDirectory);
                console.Out.WriteLine($"next: dotnet merge analyze {definitionPath} -o {Path.Combine(root, "analysis.html")}   |   dotnet merge inspect {merged.OutputDirectory}");
                return ExitCodes.Success;
            }, ct);
        });
        return command;
    }

    /// <summary>Writes the example models into ROOT/models. They are the same bytes on every run, so a model already
    /// there that is identical is kept (running the demo twice works); one that differs is replaced only with --force.
    /// Each is generated into a hidden staging directory first, so an interrupted run leaves no half-written model.</summary>
    private static async Task WriteModelsAsync(string root, LlamaSpec spec, bool force, CancellationToken ct)
    {
        var models = Path.Combine(root, "models");
        var staging = Path.Combine(root, $".models.partial-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            await SyntheticModels.WriteBaseAsync(Path.Combine(staging, SyntheticModels.BaseName), spec, ct: ct);
            foreach (var ft in FineTunes) await SyntheticModels.WriteFineTuneAsync(Path.Combine(staging, ft.Name), spec, ft, ct: ct);
            Directory.CreateDirectory(models);
            foreach (var name in FineTunes.Select(f => f.Name).Prepend(SyntheticModels.BaseName))
            {
                string fresh = Path.Combine(staging, name), target = Path.Combine(models, name);
                if (Directory.Exists(target))
                {
                    if (SameFiles(fresh, target)) continue;
                    if (!force)
                        throw new MergeException(MergeErrorKind.Output, ErrorIds.OutputLocation, $"'{target}' exists and is not the demo's model; pass --force to replace it, or choose another directory");
                    Directory.Delete(target, recursive: true);
                }
                Directory.Move(fresh, target);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MergeException(MergeErrorKind.Output, ErrorIds.OutputWriteFailed, $"cannot write the demo's models into '{models}': {e.Message}", e);
        }
        finally
        {
            try { if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true); } catch (IOException) { }
        }
    }

    private static bool SameFiles(string a, string b)
    {
        var names = Directory.GetFiles(a).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        if (!names.SequenceEqual(Directory.GetFiles(b).Select(Path.GetFileName).Order(StringComparer.Ordinal))) return false;
        return names.All(n => File.ReadAllBytes(Path.Combine(a, n!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(b, n!))));
    }

    /// <summary>For each fine-tune and module group: the share of its task vector found in the merge,
    /// &lt;merged - base, ft - base&gt; / |ft - base|^2 (1.0 = fully added, 0 = absent).</summary>
    private static void PrintShares(TextWriter w, string root, string mergedDirectory)
    {
        var groups = new[] { "self_attn", "mlp", "norm", "embed_tokens", "lm_head" };
        using var merged = ModelCheckpoint.Open(mergedDirectory);
        using var baseModel = ModelCheckpoint.Open(Path.Combine(root, "models", SyntheticModels.BaseName));
        w.WriteLine("share of each fine-tune's task vector in the merged model (1.00 = fully added):");
        w.WriteLine("  model  " + string.Join("", groups.Select(g => g.PadLeft(14))));
        foreach (var ft in FineTunes)
        {
            using var model = ModelCheckpoint.Open(Path.Combine(root, "models", ft.Name));
            var cells = new List<string>();
            foreach (var group in groups)
            {
                double dot = 0, norm = 0;
                foreach (var name in merged.TensorNames.Where(n => n.Contains(group, StringComparison.Ordinal)))
                {
                    var m = Read(merged, name); var b = Read(baseModel, name); var f = Read(model, name);
                    for (int i = 0; i < m.Length; i++)
                    {
                        double d = f[i] - b[i];
                        dot += (m[i] - b[i]) * d; norm += d * d;
                    }
                }
                cells.Add((norm == 0 ? "-" : (dot / norm).ToString("F2", CultureInfo.InvariantCulture)).PadLeft(14));
            }
            w.WriteLine("  " + ft.Name.PadRight(5) + "  " + string.Concat(cells));
        }
        w.WriteLine("  (above 1.00: other fine-tunes changed the same direction too; code's attention change is chat's with a quarter");
        w.WriteLine("  of its signs reversed, its MLP change a tenth of math's, so the merge carries more of it than its own weight)");
    }

    private static float[] Read(ModelCheckpoint checkpoint, string name)
    {
        if (!checkpoint.TryGetTensor(name, out var info, out var file)) return Array.Empty<float>();
        var bytes = new byte[info.ByteLength];
        file.ReadTensor(info, bytes);
        var values = new float[info.ElementCount];
        DtypeConversion.Decode(info.Dtype, bytes, 0, values);
        return values;
    }
}
