using DotnetMerge.Demo;
using DotnetMerge.Engine;
using DotnetMerge.Hub;
using DotnetMerge.Safetensors;
using DotnetMerge.Tests.Hub;

namespace DotnetMerge.Generators.Tests;

/// <summary>Hub ids in a typed plan: a definition naming its models <c>org/name</c> (one at a revision) generates a
/// plan whose <c>RunAsync</c> resolves them through the hub cache (filled from a real Kestrel hub on loopback) and
/// writes the same bytes as the same definition over local directories; a second run offline sends no request.</summary>
public sealed class HubPlanRuntimeTests
{
    [Fact]
    public async Task ATypedPlanOfHubIds_MergesWhatTheLocalDefinitionMerges_AndRunsOfflineFromTheCache()
    {
        var root = Directory.CreateTempSubdirectory("dmrg-hubplan-").FullName;
        await using var hub = await LoopbackHub.StartAsync();
        try
        {
            var spec = new LlamaSpec(Layers: 2, Hidden: 16, Intermediate: 32, Vocab: 64, Heads: 2, KvHeads: 1);
            await SyntheticModels.WriteBaseAsync(Path.Combine(root, "models", "a"), spec);
            await SyntheticModels.WriteFineTuneAsync(Path.Combine(root, "models", "b"), spec, new FineTune("b", "mlp", 0, 0.5, 1.0, 7));
            hub.Publish("acme/base-a", Path.Combine(root, "models", "a"));
            hub.Publish("acme/tune-b", Path.Combine(root, "models", "b"), "v1");

            static string Yaml(string a, string b) => $"""
                merge_method: linear
                models:
                  - model: {a}
                    parameters: {"{"}weight: 0.3{"}"}
                  - model: {b}
                    parameters: {"{"}weight: 0.7{"}"}
                dtype: float32
                """;
            var yamlPath = Path.Combine(root, "hubblend.merge.yaml");
            var hubYaml = Yaml("acme/base-a", "acme/tune-b@v1");
            File.WriteAllText(yamlPath, hubYaml);
            var run = GeneratorHarness.Run(new[] { new DefinitionFile(yamlPath, hubYaml) });
            Assert.Empty(run.GeneratorDiagnostics);
            dynamic plan = Activator.CreateInstance(run.Load().GetType("Sample.HubblendMergePlan")!)!;
            plan = plan.WithDefinitionPath(yamlPath);

            var settings = new HubSettings
            {
                Endpoint = hub.Endpoint, CacheDirectory = Path.Combine(root, "hf-cache"), MaxRetries = 1,
                RetryBaseDelay = TimeSpan.FromMilliseconds(10), Timeout = TimeSpan.FromSeconds(10),
            };
            var fromHub = Path.Combine(root, "from-hub");
            await plan.RunAsync(fromHub, new MergeOptions { Threads = 1, WriteModelCard = false, Hub = settings });

            var local = Path.Combine(root, "local.yaml");
            File.WriteAllText(local, Yaml("./models/a", "./models/b"));
            var fromLocal = Path.Combine(root, "from-local");
            await MergeRunner.RunAsync(MergeRunner.ParseDefinition(File.ReadAllText(local), local, out _), fromLocal, new MergeOptions { Threads = 1, WriteModelCard = false });
            Assert.Equal(File.ReadAllBytes(Path.Combine(fromLocal, "model.safetensors")), File.ReadAllBytes(Path.Combine(fromHub, "model.safetensors")));

            hub.ResetCounts();
            var offline = Path.Combine(root, "offline");
            await plan.RunAsync(offline, new MergeOptions { Threads = 1, WriteModelCard = false, Hub = settings with { Offline = true } });
            Assert.Empty(hub.Requests);
            Assert.Equal(File.ReadAllBytes(Path.Combine(fromLocal, "model.safetensors")), File.ReadAllBytes(Path.Combine(offline, "model.safetensors")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
