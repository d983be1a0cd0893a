namespace DotnetMerge.Definitions.Tests;

internal static class TestYaml
{
    /// <summary>Joins lines with '\n' so that line numbers in tests are easy to count.</summary>
    public static string Lines(params string[] lines) => string.Join("\n", lines) + "\n";

    public static ParseResult Load(string text, ValidationOptions? options = null) => DefinitionLoader.Load(text, "merge.yaml", options);

    public static MergeDefinition Definition(string text)
    {
        var result = DefinitionParser.Parse(text, "merge.yaml");
        Assert.NotNull(result.Definition);
        return result.Definition!;
    }

    /// <summary>The repository's root directory (the one holding dotnet-merge.sln).</summary>
    public static string RepositoryRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(dir, "dotnet-merge.sln")))
            dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("repository root not found");
        return dir;
    }
}
