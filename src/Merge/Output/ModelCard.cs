using System.Text;
using DotnetMerge.Definitions;
using DotnetMerge.Planning;

namespace DotnetMerge.Output;

/// <summary>Writes README.md (a Hugging Face model card: front matter, method, models, the definition) and the
/// definition file itself (as mergekit_config.yml, the name tools expect) into a merged model's directory.</summary>
public static class ModelCard
{
    public const string DefinitionFileName = "mergekit_config.yml";

    public static void Write(MergePlan plan, string directory, string title, string? extraSection = null)
    {
        File.WriteAllText(Path.Combine(directory, "README.md"), Render(plan, title, extraSection));
        File.WriteAllText(Path.Combine(directory, DefinitionFileName), RecordedDefinition(plan.Definition));
    }

    public static string Render(MergePlan plan, string title, string? extraSection = null)
    {
        var def = plan.Definition;
        var hubIds = plan.Models.Select(m => m.Name).Where(LooksLikeHubId).Distinct(StringComparer.Ordinal).ToList();
        var declared = plan.Models.SelectMany(m => m.DeclaredBaseModels()).Distinct(StringComparer.Ordinal).ToList();
        var sb = new StringBuilder();
        sb.Append("---\n");
        var bases = hubIds.Concat(declared).Distinct(StringComparer.Ordinal).ToList();
        if (bases.Count > 0)
        {
            sb.Append("base_model:\n");
            foreach (var b in bases) sb.Append("- ").Append(b).Append('\n');
        }
        // mergekit's tags (the Hub's filters and model tree look for them), then ours.
        sb.Append("library_name: transformers\ntags:\n- mergekit\n- merge\n- dotnet-merge\n---\n\n");
        sb.Append("# ").Append(title).Append("\n\n");
        sb.Append("This model is a merge of pre-trained language models, made with dotnet-merge.\n\n");
        sb.Append("## Merge details\n\n### Method\n\n");
        sb.Append("Merged with **").Append(plan.Method.PrettyName).Append("** (`").Append(plan.Method.Name).Append("`)");
        if (plan.Method.ReferenceUrl is { } url) sb.Append(", see ").Append(url);
        var baseModel = def.BaseModel;
        if (baseModel is not null) sb.Append(", using `").Append(baseModel.Path).Append("` as the base");
        sb.Append(".\n\n### Models\n\n");
        foreach (var m in plan.Models.Where(m => baseModel is null || !m.Reference.Equals(baseModel)))
            sb.Append("- `").Append(m.Name).Append("`\n");
        if (extraSection is not null) sb.Append('\n').Append(extraSection.TrimEnd()).Append('\n');
        sb.Append("\n### Configuration\n\n```yaml\n").Append(RecordedDefinition(def).TrimEnd()).Append("\n```\n");
        return sb.ToString();
    }

    /// <summary>The definition that was merged: its own text when it was parsed from one and not changed since (comments
    /// kept), otherwise the definition written out (typed-plan overrides, definitions built in code).</summary>
    public static string RecordedDefinition(MergeDefinition definition)
        => definition.SourceText ?? DefinitionWriter.Write(definition);

    private static bool LooksLikeHubId(string path) => HubRepoId.CanBeModel(path) && !Directory.Exists(path);
}
