using DotnetMerge.Generators.Parsing;
using DotnetMerge.Plans;

namespace DotnetMerge.Generators.Tests;

/// <summary>A plan holds its definition's path relative to the project (no absolute path of the build machine in the
/// assembly) and finds it at run time from the assembly's directory upwards.</summary>
public class DefinitionPathTests
{
    [Theory]
    [InlineData("/src/Sample/", "/src/Sample/merges/blend.merge.yaml", "merges/blend.merge.yaml")]
    [InlineData("/src/Sample", "/src/Sample/blend.merge.yaml", "blend.merge.yaml")]
    [InlineData("/src/Sample/", "/src/shared/./defs/../x.merge.yaml", "../shared/x.merge.yaml")]
    [InlineData("C:\\work\\App\\", "c:\\work\\App\\merges\\a.merge.yaml", "merges/a.merge.yaml")]
    [InlineData("C:\\work\\App\\", "D:\\defs\\a.merge.yaml", "a.merge.yaml")]
    [InlineData(null, "/src/Sample/merges/blend.merge.yaml", "blend.merge.yaml")]
    public void Definition_file_is_relative_to_the_project(string? project, string path, string expected)
        => Assert.Equal(expected, Names.RelativePath(project, path));

    [Fact]
    public void Generated_plan_holds_no_absolute_path()
    {
        var run = GeneratorHarness.Run(GeneratorHarness.PathOf("blend.merge.yaml"), "merge_method: linear\nmodels:\n  - model: ./a\n    parameters: {weight: 1.0}\n");

        var source = Assert.Single(run.Sources).Value;
        Assert.Contains("public const string DefinitionFile = \"merges/blend.merge.yaml\";", source, StringComparison.Ordinal);
        Assert.DoesNotContain(GeneratorHarness.ProjectDirectory, source, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_time_search_finds_the_definition_above_the_output_directory()
    {
        var root = Directory.CreateTempSubdirectory("dmrg-paths-").FullName;
        try
        {
            var output = Directory.CreateDirectory(Path.Combine(root, "App", "bin", "Debug", "net10.0")).FullName;
            Directory.CreateDirectory(Path.Combine(root, "App", "merges"));
            var definition = Path.Combine(root, "App", "merges", "blend.merge.yaml");
            File.WriteAllText(definition, "merge_method: linear\n");

            Assert.Equal(definition, TypedPlanPaths.Search("merges/blend.merge.yaml", output));

            // A copy in the output directory (CopyToOutputDirectory, a published app) wins over the project's.
            Directory.CreateDirectory(Path.Combine(output, "merges"));
            File.WriteAllText(Path.Combine(output, "merges", "blend.merge.yaml"), "merge_method: linear\n");
            Assert.Equal(Path.Combine(output, "merges", "blend.merge.yaml"), TypedPlanPaths.Search("merges/blend.merge.yaml", output));

            // Found nowhere: where the output directory would hold it; an absolute path stays as it is.
            Assert.Equal(Path.Combine(output, "merges", "other.merge.yaml"), TypedPlanPaths.Search("merges/other.merge.yaml", output));
            Assert.Equal(definition, TypedPlanPaths.Search(definition, output));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
