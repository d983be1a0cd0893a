using System.Text;

namespace DotnetMerge.Cuda.Tests.Infrastructure;

/// <summary>Plain-file baselines under tests/Native/Baselines, compared text-exactly (line endings normalised).
/// Set DOTNET_MERGE_UPDATE_BASELINES=1 to rewrite them from the actual output.</summary>
internal static class Baseline
{
    public const string UpdateVariable = "DOTNET_MERGE_UPDATE_BASELINES";

    public static void AssertMatches(string fileName, string actual)
    {
        string path = Path.Combine(HostCompiler.TestsRoot, "Baselines", fileName);
        actual = Normalize(actual);
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual);
            return;
        }
        Assert.True(File.Exists(path), $"baseline {path} is missing; run the tests with {UpdateVariable}=1 to create it");
        string expected = Normalize(File.ReadAllText(path));
        if (expected == actual) return;
        Assert.Fail($"{fileName} differs from its baseline ({UpdateVariable}=1 rewrites it):\n{Diff(expected, actual)}");
    }

    /// <summary>The first differing line with three lines of context on each side, as "-expected" / "+actual".</summary>
    public static string Diff(string expected, string actual)
    {
        string[] e = expected.Split('\n'), a = actual.Split('\n');
        int first = 0;
        while (first < e.Length && first < a.Length && e[first] == a[first]) first++;
        var text = new StringBuilder();
        text.Append(FormattableString.Invariant($"first difference at line {first + 1} (expected {e.Length} lines, actual {a.Length})\n"));
        for (int i = Math.Max(0, first - 3); i < first; i++) text.Append("  ").Append(e[i]).Append('\n');
        for (int i = first; i < Math.Min(e.Length, first + 4); i++) text.Append("- ").Append(e[i]).Append('\n');
        for (int i = first; i < Math.Min(a.Length, first + 4); i++) text.Append("+ ").Append(a[i]).Append('\n');
        return text.ToString();
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal);
}
