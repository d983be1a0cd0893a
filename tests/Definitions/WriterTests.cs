namespace DotnetMerge.Definitions.Tests;

/// <summary>DefinitionWriter: what a changed definition is recorded as (mergekit_config.yml, the model card).</summary>
public class WriterTests
{
    private static string L(params string[] lines) => TestYaml.Lines(lines);

    [Fact]
    public void Writes_every_form_in_block_style_with_quoted_strings_where_yaml_would_read_them_differently()
    {
        var definition = TestYaml.Definition(L(
            "merge_method: ties",
            "base_model: org/base@main",
            "slices:",
            "  - sources:",
            "      - model: ./a",
            "        layer_range: [0, 2]",
            "        parameters:",
            "          weight: [0, 0.5, 1]",
            "          density: [{filter: mlp, value: 0.3}, {value: 1e-5}]",
            "      - model: org/base@main",
            "        layer_range: [0, 2]",
            "    parameters: {weight: 2}",
            "parameters:",
            "  trim_scope: 'model'",
            "  normalize: false",
            "  lambda: 'yes'",
            "dtype: bfloat16",
            "tokenizer_source: base",
            "chat_template: \"{% for m in messages %}{{ m['content'] }}\\n{% endfor %}\"",
            "seed: 42"));

        // Expected text written by hand from the rules: mergekit's key order, floats with '.' and a signed exponent,
        // 'yes' quoted (a YAML 1.1 boolean), the Jinja template double-quoted with its escape.
        var expected = L(
            "merge_method: ties",
            "base_model: org/base@main",
            "slices:",
            "  - sources:",
            "      - model: ./a",
            "        layer_range: [0, 2]",
            "        parameters:",
            "          weight: [0.0, 0.5, 1.0]",
            "          density: [{filter: mlp, value: 0.3}, {value: 1.0e-05}]",
            "      - model: org/base@main",
            "        layer_range: [0, 2]",
            "    parameters:",
            "      weight: 2.0",
            "parameters:",
            "  trim_scope: model",
            "  normalize: false",
            "  lambda: \"yes\"",
            "dtype: bfloat16",
            "tokenizer_source: base",
            "chat_template: \"{% for m in messages %}{{ m['content'] }}\\n{% endfor %}\"",
            "seed: 42");
        Assert.Equal(expected, DefinitionWriter.Write(definition));
    }

    [Fact]
    public void A_models_name_is_kept()
    {
        var written = DefinitionWriter.Write(TestYaml.Definition(L("merge_method: linear", "models:", "  - model: ./a", "    name: Chat", "    parameters: {weight: 1}")));
        Assert.Equal(L("merge_method: linear", "models:", "  - model: ./a", "    name: Chat", "    parameters:", "      weight: 1.0"), written);
        var reread = TestYaml.Load(written);
        Assert.Empty(reread.Diagnostics);
        Assert.Equal("Chat", Assert.Single(reread.Definition!.Models!).Name);
    }

    [Theory]
    [InlineData("samples/TypedPlans/merges/ties.merge.yaml")]
    [InlineData("samples/TypedPlans/merges/chat-code.merge.yaml")]
    [InlineData("tests/Integration/Fixtures/Consumer/merges/step.merge.yaml")]
    public void What_it_writes_reads_back_as_the_same_definition(string relative)
    {
        var text = File.ReadAllText(Path.Combine(TestYaml.RepositoryRoot(), relative));
        var original = TestYaml.Definition(text);
        var written = DefinitionWriter.Write(original);
        var reread = TestYaml.Load(written);

        Assert.DoesNotContain(reread.Diagnostics, d => d.IsError);
        Assert.Equal(original.MergeMethod, reread.Definition!.MergeMethod);
        Assert.Equal(original.AllModels(), reread.Definition.AllModels());
        Assert.Equal(original.Dtype, reread.Definition.Dtype);
        // Every parameter of every model evaluates to the same value at the first, middle and last layer.
        foreach (var (a, b) in original.Models!.Zip(reread.Definition.Models!))
        {
            Assert.Equal(a.Parameters.Keys, b.Parameters.Keys);
            foreach (var key in a.Parameters.Keys)
                foreach (var t in new[] { 0.0, 0.5, 1.0 })
                    Assert.Equal(a.Parameters[key].Evaluate("model.layers.0.mlp.up_proj.weight", t), b.Parameters[key].Evaluate("model.layers.0.mlp.up_proj.weight", t));
        }

        Assert.Equal(original.Parameters.Keys, reread.Definition.Parameters.Keys);
        Assert.Equal(written, DefinitionWriter.Write(reread.Definition));
    }

    [Fact]
    public void The_tokenizer_section_is_written_and_reads_back_the_same()
    {
        var definition = TestYaml.Definition(L(
            "merge_method: linear",
            "models: [{model: org/a, parameters: {weight: 1}}, {model: org/b, parameters: {weight: 1}}]",
            "tokenizer:",
            "  source: union",
            "  pad_to_multiple_of: 64",
            "  tokens:",
            "    <|im_start|>: {source: org/b, force: true}",
            "    \"<pad>\": {source: {kind: zero}}",
            "    \"<t>\": {source: {kind: model_token, model: org/a, token_id: 7}}",
            "    \"<u>\": {source: {kind: model_token, model: org/a, token: \"</s>\"}}",
            "    \"<new>\": {}"));
        var text = DefinitionWriter.Write(definition);
        Assert.Contains(L(
            "tokenizer:",
            "  source: union",
            "  pad_to_multiple_of: 64",
            "  tokens:",
            "    \"<|im_start|>\":",
            "      source: org/b",
            "      force: true",
            "    \"<pad>\":",
            "      source: {kind: zero}",
            "    \"<t>\":",
            "      source: {kind: model_token, model: org/a, token_id: 7}",
            "    \"<u>\":",
            "      source: {kind: model_token, model: org/a, token: \"</s>\"}",
            "    \"<new>\": {}"), text, StringComparison.Ordinal);
        var again = TestYaml.Definition(text).Tokenizer!;
        Assert.Equal(definition.Tokenizer!.Tokens.Select(t => (t.Token, t.Kind, t.Model?.ToString(), t.SourceToken, t.SourceTokenId, t.Force)),
            again.Tokens.Select(t => (t.Token, t.Kind, t.Model?.ToString(), t.SourceToken, t.SourceTokenId, t.Force)));
        Assert.Equal(64, again.PadToMultipleOf);
    }
}
