using DotnetMerge.Tests.Hub;

namespace DotnetMerge.Integration.Tests;

/// <summary>Hub ids in the build step, against the loopback hub of the engine's hub tests (HF_ENDPOINT points the CLI at
/// it): the up-to-date check is keyed on the commit the revision resolves to.</summary>
public partial class PackageIntegrationTests
{
    [Fact]
    public async Task Hub_ids_in_the_build_step_merge_again_when_the_branch_moves_and_not_for_a_pinned_commit()
    {
        var project = fixture.CopyFixture("Consumer");
        await using var hub = await LoopbackHub.StartAsync();
        var first = hub.Publish("org/tuned", Path.Combine(project, "models", "tuned"));
        var cache = Path.Combine(project, "hf-cache");
        var environment = new Dictionary<string, string> { ["HF_ENDPOINT"] = hub.Endpoint, ["HF_HUB_CACHE"] = cache, ["HF_HUB_OFFLINE"] = "0" };
        var step = Path.Combine(project, "merges", "step.merge.yaml");
        File.WriteAllText(step, File.ReadAllText(step).Replace("../models/tuned", "org/tuned", StringComparison.Ordinal));
        var output = Path.Combine(project, "out", "step", "model.safetensors");
        var reference = Path.Combine(cache, "models--org--tuned", "refs", "main");

        var built = fixture.DotnetWith(environment, project, BuildArguments);
        Assert.True(built.ExitCode == 0, built.Output);
        Assert.Contains("DotnetMerge: merged merges/step.merge.yaml", built.Output, StringComparison.Ordinal);
        Assert.Equal(first.Commit, File.ReadAllText(reference).Trim());
        var deps = Directory.GetFiles(Path.Combine(project, "obj", "dotnet-merge"), "step.merge.yaml.*.stamp.deps").Single();
        Assert.Contains(reference, File.ReadAllLines(deps));
        var merged = File.ReadAllBytes(output);

        // The branch has not moved: the hub is asked (one revision request), nothing is merged.
        hub.ResetCounts();
        var unchanged = fixture.DotnetWith(environment, project, BuildArguments);
        Assert.True(unchanged.ExitCode == 0, unchanged.Output);
        Assert.DoesNotContain("DotnetMerge: merged", unchanged.Output, StringComparison.Ordinal);
        Assert.Contains(hub.Requests, r => r.Contains("/api/models/org/tuned/revision/main", StringComparison.Ordinal));
        Assert.Equal(0, hub.BytesSent("org/tuned", "model.safetensors")); // no weights downloaded again

        // main moves to another commit (other weights): the build merges again, from the new commit.
        var moved = hub.Publish("org/tuned", Path.Combine(project, "models", "other"));
        var afterMove = fixture.DotnetWith(environment, project, BuildArguments);
        Assert.True(afterMove.ExitCode == 0, afterMove.Output);
        Assert.Contains("DotnetMerge: merged merges/step.merge.yaml", afterMove.Output, StringComparison.Ordinal);
        Assert.Equal(moved.Commit, File.ReadAllText(reference).Trim());
        Assert.NotEqual(merged, File.ReadAllBytes(output));

        // Pinned to that commit: merged once (the definition changed), then a moved main changes nothing and asks nothing.
        File.WriteAllText(step, File.ReadAllText(step).Replace("org/tuned", "org/tuned@" + moved.Commit, StringComparison.Ordinal));
        var pinned = fixture.DotnetWith(environment, project, BuildArguments);
        Assert.True(pinned.ExitCode == 0, pinned.Output);
        Assert.Contains("DotnetMerge: merged merges/step.merge.yaml", pinned.Output, StringComparison.Ordinal);
        var pinnedBytes = File.ReadAllBytes(output);
        hub.Publish("org/tuned", Path.Combine(project, "models", "tuned"));
        hub.ResetCounts();
        var pinnedAgain = fixture.DotnetWith(environment, project, BuildArguments);
        Assert.True(pinnedAgain.ExitCode == 0, pinnedAgain.Output);
        Assert.DoesNotContain("DotnetMerge: merged", pinnedAgain.Output, StringComparison.Ordinal);
        Assert.Empty(hub.Requests);
        Assert.Equal(pinnedBytes, File.ReadAllBytes(output));
    }
}
