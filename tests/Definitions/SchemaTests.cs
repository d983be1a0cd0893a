using System.Text.Json.Nodes;
using Json.Schema;
using YamlDotNet.RepresentationModel;

namespace DotnetMerge.Definitions.Tests;

/// <summary>The JSON schema generated from the method catalog (docs/merge.schema.json): every sample definition of the
/// repository is valid against it and typos are not; the committed file is the generator's output.</summary>
public class SchemaTests
{
    private static readonly JsonSchema Schema = JsonSchema.FromText(DefinitionSchema.Write());

    public static TheoryData<string> Samples()
    {
        var root = TestYaml.RepositoryRoot();
        var data = new TheoryData<string>();
        foreach (var dir in new[] { "samples", Path.Combine("tests", "Integration", "Fixtures"), Path.Combine("tests", "Generators", "Definitions") })
            foreach (var file in Directory.GetFiles(Path.Combine(root, dir), "*.merge.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                data.Add(Path.GetRelativePath(root, file));
        return data;
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Every_sample_definition_is_valid(string relative)
    {
        var text = File.ReadAllText(Path.Combine(TestYaml.RepositoryRoot(), relative));
        Assert.DoesNotContain(DefinitionLoader.LoadStages(text, relative).Diagnostics, d => d.IsError); // a sample is a valid definition (of one stage or several)
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        foreach (var document in stream.Documents) // the schema describes one document: each stage of a multi-stage file
        {
            var result = Evaluate(document);
            Assert.True(result.IsValid, relative + ": " + Errors(result));
        }
    }

    [Theory]
    [InlineData("merge_metod: ties\nbase_model: a\nmodels:\n  - model: b\n    parameters: {weight: 1, density: 0.5}\n")]        // unknown key
    [InlineData("merge_method: tie\nbase_model: a\nmodels:\n  - model: b\n    parameters: {weight: 1, density: 0.5}\n")]        // unknown method
    [InlineData("merge_method: ties\nbase_model: a\nmodels:\n  - model: b\n    parameters: {weight: 1, densty: 0.5}\n")]         // unknown parameter
    [InlineData("merge_method: slerp\nbase_model: a\nmodels:\n  - model: a\n  - model: b\nparameters: {t: 0.5, density: 0.5}\n")] // another method's parameter
    [InlineData("merge_method: ties\nbase_model: a\nmodels:\n  - model: b\n    parameters: {weight: 1, density: -0.5}\n")]       // below the minimum
    [InlineData("merge_method: ties\nbase_model: a\nmodels:\n  - model: b\n    parameters: {weight: 1}\nparameters: {trim_scope: modle}\n")] // not a listed value
    [InlineData("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\ndtype: bf16\n")]                     // dtype alias dotnet-merge rejects
    [InlineData("merge_method: linear\nmodules:\n  text_decoder:\n    modles: [{model: a, parameters: {weight: 1}}]\n")]       // unknown key in a module
    [InlineData("merge_method: ties\nbase_model: a\nmodules:\n  text_decoder:\n    models: [{model: b, parameters: {weight: 1, t: 0.5}}]\n")] // another method's parameter in a module's model
    public void Typos_are_rejected(string yaml)
    {
        Assert.False(Evaluate(yaml).IsValid, yaml);
    }

    [Fact]
    public void A_modules_definition_is_valid()
    {
        var yaml = "merge_method: ties\nbase_model: a\nmodules:\n  text_decoder:\n    models: [{model: b, parameters: {weight: 1, density: 0.5}}]\n"
            + "    parameters: {normalize: true}\n  vision_tower:\n    slices:\n      - sources:\n          - {model: a, layer_range: [0, 2]}\n"
            + "          - {model: b, layer_range: [0, 2], parameters: {weight: 1}}\n";
        var result = Evaluate(yaml);
        Assert.True(result.IsValid, Errors(result));
    }

    [Fact]
    public void The_committed_schema_is_the_generated_one()
    {
        var path = Path.Combine(TestYaml.RepositoryRoot(), "docs", "merge.schema.json");
        if (Environment.GetEnvironmentVariable("DOTNET_MERGE_UPDATE_BASELINES") == "1")
            File.WriteAllText(path, DefinitionSchema.Write());
        Assert.True(File.Exists(path) && File.ReadAllText(path) == DefinitionSchema.Write(),
            "docs/merge.schema.json is not DefinitionSchema.Write(); run this test with DOTNET_MERGE_UPDATE_BASELINES=1");
    }

    private static EvaluationResults Evaluate(YamlDocument document)
        => Schema.Evaluate(System.Text.Json.JsonSerializer.SerializeToElement(Convert(document.RootNode)), new EvaluationOptions { OutputFormat = OutputFormat.List });

    private static EvaluationResults Evaluate(string yaml)
        => Schema.Evaluate(System.Text.Json.JsonSerializer.SerializeToElement(ToJson(yaml)), new EvaluationOptions { OutputFormat = OutputFormat.List });

    private static string Errors(EvaluationResults result)
        => string.Join("; ", (result.Details ?? new List<EvaluationResults>()).Where(d => d.Errors is not null)
            .SelectMany(d => d.Errors!.Select(e => d.InstanceLocation + ": " + e.Value)));

    /// <summary>YAML to JSON with the definition library's scalar rules (numbers, booleans and null as a YAML loader reads them).</summary>
    private static JsonNode? ToJson(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return Convert(stream.Documents[0].RootNode);
    }

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(p => KeyValuePair.Create(((YamlScalarNode)p.Key).Value!, Convert(p.Value)))),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(Convert).ToArray()),
        YamlScalarNode scalar => YamlScalars.Resolve(scalar) switch
        {
            null => null,
            bool b => JsonValue.Create(b),
            double d => d == Math.Floor(d) && Math.Abs(d) < 1e15 ? JsonValue.Create((long)d) : JsonValue.Create(d),
            string s => JsonValue.Create(s),
            var other => throw new InvalidOperationException(other.GetType().Name),
        },
        _ => throw new InvalidOperationException(node.GetType().Name),
    };
}
