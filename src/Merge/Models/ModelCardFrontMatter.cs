namespace DotnetMerge.Models;

/// <summary>Reads the <c>base_model</c> entry of a Hugging Face model card's YAML front matter (scalar or list).</summary>
public static class ModelCardFrontMatter
{
    public static IReadOnlyList<string> ReadBaseModels(string readmePath)
    {
        if (!File.Exists(readmePath)) return Array.Empty<string>();
        var lines = File.ReadLines(readmePath).Take(200).ToList();
        if (lines.Count == 0 || lines[0].Trim() != "---") return Array.Empty<string>();
        var result = new List<string>();
        for (int i = 1; i < lines.Count && lines[i].Trim() != "---"; i++)
        {
            var line = lines[i];
            if (!line.StartsWith("base_model:", StringComparison.Ordinal)) continue;
            var rest = line["base_model:".Length..].Trim();
            if (rest.Length > 0) { result.Add(Unquote(rest)); break; }
            for (int j = i + 1; j < lines.Count && lines[j].TrimStart().StartsWith("- ", StringComparison.Ordinal); j++)
                result.Add(Unquote(lines[j].TrimStart()[2..].Trim()));
            break;
        }
        return result;
    }

    private static string Unquote(string s) => s.Length >= 2 && (s[0] == '"' || s[0] == '\'') && s[^1] == s[0] ? s[1..^1] : s;
}
