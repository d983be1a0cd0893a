namespace DotnetMerge.Integration.Tests;

/// <summary>Real builds of a project consuming the packed DotnetMerge package: compile-time diagnostics from the
/// generator, a typed plan run with `dotnet run`, and the incremental build step. Slow (a few builds), so kept to one class.</summary>
public class PackageIntegrationTests(PackageFixture fixture) : IClassFixture<PackageFixture>
{
    private static readonly string[] BuildArguments = { "build", "-nologo", "-v", "m", "-nodeReuse:false", "-p:UseSharedCompilation=false" };

    [Fact]
    public void Build_step_runs_once_then_is_incremental_and_the_typed_plan_runs()
    {
        var project = fixture.CopyFixture("Consumer");
        var output = Path.Combine(project, "out", "step", "model.safetensors");

        var first = fixture.Dotnet(project, BuildArguments);
        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Contains("dotnet-merge: merging", first.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(output), "the build step wrote no model:\n" + first.Output);
        Assert.True(File.Exists(Path.Combine(project, "out", "step", "config.json")));
        var firstWrite = File.GetLastWriteTimeUtc(output);

        var second = fixture.Dotnet(project, BuildArguments);
        Assert.True(second.ExitCode == 0, second.Output);
        Assert.DoesNotContain("dotnet-merge: merging", second.Output, StringComparison.Ordinal);
        Assert.Equal(firstWrite, File.GetLastWriteTimeUtc(output));

        // Editing the definition runs the merge again.
        var definition = Path.Combine(project, "merges", "step.merge.yaml");
        File.WriteAllText(definition, File.ReadAllText(definition).Replace("weight: 0.5", "weight: 0.25", StringComparison.Ordinal));
        var third = fixture.Dotnet(project, BuildArguments);
        Assert.True(third.ExitCode == 0, third.Output);
        Assert.Contains("dotnet-merge: merging", third.Output, StringComparison.Ordinal);
        Assert.NotEqual(firstWrite, File.GetLastWriteTimeUtc(output));

        // The typed plan (generated from merges/typed.merge.yaml) runs from Main.
        var typedOutput = Path.Combine(project, "out", "typed");
        var run = fixture.Dotnet(project, "run", "--no-build", "--", typedOutput);
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("typed plan merged", run.Output, StringComparison.Ordinal);
        Assert.Contains("tuned weight 0.75", run.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(typedOutput, "model.safetensors")), run.Output);

        // dotnet clean removes what the build step produced.
        var clean = fixture.Dotnet(project, "clean", "-nologo", "-v", "q", "-nodeReuse:false");
        Assert.True(clean.ExitCode == 0, clean.Output);
        Assert.False(Directory.Exists(Path.Combine(project, "out", "step")), "dotnet clean left the merged model");
    }

    [Fact]
    public void Bad_definition_fails_the_build_with_a_located_error()
    {
        var project = fixture.CopyFixture("Consumer");
        // The misspelled method name is on line 4, its value starting at column 15.
        File.WriteAllText(Path.Combine(project, "merges", "typed.merge.yaml"),
            "# a comment line\nmodels:\n  - model: ../models/base\nmerge_method: linaer\n");

        var build = fixture.Dotnet(project, BuildArguments);

        Assert.NotEqual(0, build.ExitCode);
        var expected = Path.Combine(project, "merges", "typed.merge.yaml") + "(4,15): error DMRG0201: unknown merge method 'linaer'; did you mean 'linear'?";
        Assert.Contains(expected, build.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(project, "out", "step")), "the build step ran although compilation failed");
    }
}
