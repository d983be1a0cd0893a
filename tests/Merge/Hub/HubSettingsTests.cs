using DotnetMerge.Hub;
using DotnetMerge.Tests.Safetensors;

namespace DotnetMerge.Tests.Hub;

/// <summary>Environment variables and ids, read as huggingface_hub reads them (reference hub-adapters-pickle.md A.1, A.3, A.6, A.9, B.1).</summary>
public sealed class HubSettingsTests
{
    private static HubSettings From(params (string Name, string Value)[] vars)
    {
        var map = vars.ToDictionary(v => v.Name, v => v.Value);
        if (!map.ContainsKey("HOME")) map["HOME"] = "/home/u";
        return HubSettings.FromEnvironment(name => map.TryGetValue(name, out var v) ? v : null);
    }

    [Fact]
    public void CacheRootsFollowHuggingFaceHub()
    {
        Assert.Equal("/home/u/.cache/huggingface/hub", From().CacheDirectory);
        Assert.Equal("/x/huggingface/hub", From(("XDG_CACHE_HOME", "/x")).CacheDirectory);
        Assert.Equal("/h/hub", From(("HF_HOME", "/h"), ("XDG_CACHE_HOME", "/x")).CacheDirectory);
        Assert.Equal("/legacy", From(("HF_HOME", "/h"), ("HUGGINGFACE_HUB_CACHE", "/legacy")).CacheDirectory);
        Assert.Equal("/c", From(("HF_HUB_CACHE", "/c"), ("HUGGINGFACE_HUB_CACHE", "/legacy")).CacheDirectory);
        Assert.Equal("/home/u/hf/hub", From(("HF_HOME", "~/hf")).CacheDirectory);
        Assert.Equal("/data/models/hub", From(("HF_HOME", "$DATA/models/hub"), ("DATA", "/data"), ("HF_HUB_CACHE", "${DATA}/models/hub")).CacheDirectory);
    }

    [Fact]
    public void EndpointOfflineAndTokenComeFromTheEnvironment()
    {
        Assert.Equal("https://huggingface.co", From().Endpoint);
        Assert.Equal("http://mirror:8080", From(("HF_ENDPOINT", "http://mirror:8080/")).Endpoint);
        foreach (var yes in new[] { "1", "on", "Yes", "TRUE" }) Assert.True(From(("HF_HUB_OFFLINE", yes)).Offline, yes);
        foreach (var no in new[] { "0", "off", "no", "" }) Assert.False(From(("HF_HUB_OFFLINE", no)).Offline, no);
        Assert.True(From(("TRANSFORMERS_OFFLINE", "1")).Offline);
        Assert.Equal("hf_a", From(("HF_TOKEN", "hf_a\r\n"), ("HUGGING_FACE_HUB_TOKEN", "hf_b")).Token);
        Assert.Equal("hf_b", From(("HUGGING_FACE_HUB_TOKEN", " hf_b ")).Token);
        Assert.Null(From(("HF_TOKEN", "hf_a"), ("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")).Token);
    }

    [Fact]
    public void TheTokenFileIsReadFromHfHomeOrHfTokenPath()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("token"), "hf_file\n");
        Assert.Equal("hf_file", From(("HF_HOME", dir.Path)).Token);
        File.WriteAllText(dir.File("other"), "hf_other");
        Assert.Equal("hf_other", From(("HF_HOME", dir.Path), ("HF_TOKEN_PATH", dir.File("other"))).Token);
        File.WriteAllText(dir.File("empty"), " \n");
        Assert.Null(From(("HF_HOME", "/nowhere"), ("HF_TOKEN_PATH", dir.File("empty"))).Token);
    }

    [Theory]
    [InlineData("org/name", true)]
    [InlineData("mistralai/Mistral-7B-v0.1", true)]
    [InlineData("NousResearch/Hermes_2.Pro", true)]
    [InlineData("gpt2", false)] // valid for the hub, but a one-word name stays a local directory here
    [InlineData("org/na--me", false)]
    [InlineData("org/na..me", false)]
    [InlineData("org/-name", false)]
    [InlineData("org/name.", false)]
    [InlineData("a/b/c", false)]
    [InlineData("./org/name", false)]
    [InlineData("org/na me", false)]
    public void OnlyValidOrgNameIdsAreHubIds(string path, bool hub) => Assert.Equal(hub, HubModelId.TryCreate(path, null) is not null);

    [Fact]
    public void RevisionsAndCacheFolderNames()
    {
        var id = HubModelId.TryCreate("org/name", null)!;
        Assert.Equal(("main", "models--org--name", "org/name"), (id.Revision, id.CacheFolderName, id.ToString()));
        Assert.True(HubModelId.TryCreate("org/name", new string('a', 40))!.RevisionIsCommit);
        Assert.False(HubModelId.TryCreate("org/name", new string('A', 40))!.RevisionIsCommit); // uppercase: a ref name to the hub
        Assert.False(HubModelId.TryCreate("org/name", "abc1234")!.RevisionIsCommit);
        Assert.Null(HubModelId.RevisionProblem("refs/pr/3"));
        Assert.NotNull(HubModelId.RevisionProblem("../../etc"));
        Assert.NotNull(HubModelId.RevisionProblem("a b"));
        var client = new HubClient(new HubSettings { CacheDirectory = "/c", Endpoint = "http://h" });
        Assert.Equal("http://h/api/models/org/name/revision/refs%2Fpr%2F3", client.RepoInfoUrl(id, "refs/pr/3").AbsoluteUri);
        Assert.Equal("http://h/org/name/resolve/main/sub/a%20b.json", client.ResolveUrl(id, "main", "sub/a b.json").AbsoluteUri);
    }
}
