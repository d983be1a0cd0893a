using System.Globalization;
using System.Text;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Planning;

namespace DotnetMerge.Soups;

/// <summary>Builds the <c>linear</c> merge definition behind soups, checkpoint averages and task-vector extraction, as
/// YAML text parsed by the ordinary loader: the same validation, the same planner and compatibility checks as
/// <c>dotnet merge run</c>, and a definition that the model card records and that reproduces the output.</summary>
internal static class LinearDefinition
{
    /// <summary>The definition of <c>Σ wᵢ·modelᵢ / Σ wᵢ</c> over absolute model paths.</summary>
    public static MergeDefinition Create(IReadOnlyList<string> models, IReadOnlyList<double> weights, string comment)
    {
        if (models.Count == 0) throw new ArgumentException("at least one model is needed");
        var sb = new StringBuilder();
        foreach (var line in comment.Split('\n')) sb.Append("# ").Append(line.TrimEnd()).Append('\n');
        sb.Append("merge_method: linear\nmodels:\n");
        for (int i = 0; i < models.Count; i++)
        {
            sb.Append("  - model: '").Append(models[i].Replace("'", "''", StringComparison.Ordinal)).Append("'\n");
            sb.Append("    parameters:\n      weight: ").Append(weights[i].ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        }
        sb.Append("parameters:\n  normalize: true\n");
        var text = sb.ToString();
        // No file name: there is no file, and findings name the models (a made-up "soup.yaml(7,12)" pointed nowhere).
        return MergeRunner.ParseDefinition(text, string.Empty, out _);
    }

    /// <summary>The model references with every local path made absolute, refusing duplicates (a model listed twice would
    /// silently count once in the plan). A reference may be a directory, a Hugging Face id (<c>org/name[@revision]</c>,
    /// kept as it is for the planner to resolve) or either with a LoRA adapter (<c>base+adapter</c>).</summary>
    public static IReadOnlyList<string> FullPaths(IReadOnlyList<string> models, string? workingDirectory)
    {
        if (models.Count == 0) throw new ArgumentException("give at least one model directory");
        var full = models.Select(m => FullReference(m, workingDirectory ?? Environment.CurrentDirectory)).ToList();
        var duplicate = full.GroupBy(p => p, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ArgumentException($"the model '{duplicate.Key}' is listed twice; give each ingredient once (use `dotnet merge run` with a linear definition for unequal weights)");
        return full;
    }

    private static string FullReference(string text, string workingDirectory)
    {
        if (Directory.Exists(text) || File.Exists(text) || !ModelReference.TryParse(text, out var reference, out _))
            return FullPath(text, workingDirectory);
        return new ModelReference(FullPart(reference!.Path, workingDirectory), reference.Revision,
            reference.LoraPath is { } lora ? FullPart(lora, workingDirectory) : null, reference.LoraRevision).ToString();
    }

    /// <summary>A local path made absolute; a Hugging Face id (<c>org/name</c> where no local <c>org</c> folder exists) as it is.</summary>
    private static string FullPart(string part, string workingDirectory)
    {
        var full = FullPath(part, workingDirectory);
        bool local = Path.IsPathRooted(part) || part.StartsWith('.') || part.StartsWith('~') || Directory.Exists(full)
                     || Directory.Exists(Path.GetDirectoryName(full)) || Hub.HubModelId.TryCreate(part, null) is null;
        return local ? full : part;
    }

    private static string FullPath(string path, string workingDirectory)
        => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path, workingDirectory));

    /// <summary>Plans the definition and refuses inputs whose tensors differ in shape (a running sum needs identical shapes).</summary>
    public static MergePlan PlanSameShapes(MergeDefinition definition, MergeOptions options)
    {
        var plan = MergeRunner.Plan(definition, options);
        var cropped = plan.Jobs.FirstOrDefault(j => j.Inputs.Any(i => i.CropShape is not null));
        if (cropped is not null)
        {
            plan.Dispose();
            throw new MergeException(MergeErrorKind.Input, ErrorIds.ShapeMismatch,
                $"tensor '{cropped.OutputName}' has different shapes in the inputs ({string.Join(", ", cropped.Inputs.Select(i => $"'{i.Model.Name}' [{string.Join(", ", i.Tensor.Shape)}]"))}); this command needs models with identical tensor shapes");
        }
        return plan;
    }
}
