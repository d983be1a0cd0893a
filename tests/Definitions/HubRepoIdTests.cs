using DotnetMerge.Definitions;

namespace DotnetMerge.Definitions.Tests;

/// <summary>One rule for "can this path be a hub model", asked by the validator, the engine and the model card.</summary>
public sealed class HubRepoIdTests
{
    [Theory]
    [InlineData("mistralai/Mistral-7B-v0.1", true)]
    [InlineData("org/name.with_dots-and_1", true)]
    [InlineData("gpt2", false)] // one word: a local directory (the hub redirects namespace-less ids)
    [InlineData("models/a/b", false)]
    [InlineData("./models/a", false)]
    [InlineData("/abs/org", false)]
    [InlineData("~/org", false)]
    [InlineData("C:/x", false)]
    [InlineData("org/my model", false)]
    [InlineData("org--x/name", false)]
    [InlineData("org/name..v2", false)]
    [InlineData("-org/name", false)]
    [InlineData("org/name.", false)]
    public void CanBeModel_follows_the_hubs_id_rule(string path, bool expected) => Assert.Equal(expected, HubRepoId.CanBeModel(path));

    [Fact]
    public void IsValid_bounds_each_part_at_96_characters()
    {
        Assert.True(HubRepoId.IsValid("o/" + new string('n', 96)));
        Assert.False(HubRepoId.IsValid("o/" + new string('n', 97)));
        Assert.True(HubRepoId.IsValid("gpt2"));
    }

    [Theory]
    [InlineData("gpt2", true)]
    [InlineData("org/my model", true)]
    [InlineData("org/name", false)]
    public void The_validator_warns_about_a_missing_path_only_when_it_cannot_be_a_hub_model(string path, bool warns)
    {
        var result = TestYaml.Load($"merge_method: linear\nmodels:\n  - model: \"{path}\"\n    parameters: {{weight: 1}}\n",
            new ValidationOptions { PathExists = _ => false, BaseDirectory = "/defs" });
        Assert.Equal(warns, result.Diagnostics.Any(d => d.Id == "DMRG0601"));
    }
}
