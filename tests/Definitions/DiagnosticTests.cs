using System.Globalization;

namespace DotnetMerge.Definitions.Tests;

public class DiagnosticTests
{
    private static string L(params string[] lines) => TestYaml.Lines(lines);

    private static readonly string[] LinearOk = { "merge_method: linear", "models:", "  - model: org/a", "    parameters: {weight: 1}" };

    /// <summary>id, yaml, expected line, expected column (hand-counted), expected severity.</summary>
    public static TheoryData<string, string, int, int, DiagnosticSeverity> Cases => new()
    {
        { "DMRG0001", L("merge_method: linear", "models: [a, b"), 3, 1, DiagnosticSeverity.Error },
        { "DMRG0002", L("# nothing here"), 1, 1, DiagnosticSeverity.Error },
        { "DMRG0003", L("- linear", "- ties"), 1, 1, DiagnosticSeverity.Error },
        { "DMRG0004", L(LinearOk) + L("---", "merge_method: ties"), 6, 1, DiagnosticSeverity.Error },
        { "DMRG0005", L("merge_method: linear", "merge_method: ties"), 2, 1, DiagnosticSeverity.Error },
        { "DMRG0020", new string('#', DefinitionLimits.MaxLength + 1), 1, 1, DiagnosticSeverity.Error },
        { "DMRG0021", L("merge_method: linear", "models:", "  - model: org/a", "    parameters: {weight: " + new string('[', 70) + "1" + new string(']', 70) + "}"), 4, 86, DiagnosticSeverity.Error },
        { "DMRG0022", L("merge_method: linear", "x: &a [" + string.Join(", ", Enumerable.Repeat("0", 1000)) + "]", "y: &b [" + string.Join(", ", Enumerable.Repeat("*a", 90)) + "]",
            "z: [*b, *b]"), 4, 5, DiagnosticSeverity.Error },
        { "DMRG0023", L("merge_method: linear", "models:", "  - model: !custom org/a", "    parameters: {weight: 1}"), 3, 12, DiagnosticSeverity.Error },
        { "DMRG0024", L("merge_method: linear", "models:", "  - model: org/a", "    parameters: {weight: 1}") + L(Enumerable.Range(0, 25).Select(i => "k" + i + ": 1").ToArray()), 25, 1, DiagnosticSeverity.Warning },
        { "DMRG0101", L("merge_method: linear", "models:", "  - model: org/a", "    comment: fine-tuned on math", "parameters: {weight: 1}"), 4, 5, DiagnosticSeverity.Warning },
        { "DMRG0102", L("merge_method: linear", "models: org/a"), 2, 9, DiagnosticSeverity.Error },
        { "DMRG0103", L("models:", "  - model: org/a", "    parameters: {weight: 1}"), 1, 1, DiagnosticSeverity.Error },
        { "DMRG0104", L(LinearOk) + L("slices:", "  - sources: [{model: org/a, layer_range: [0, 2]}]"), 5, 1, DiagnosticSeverity.Error },
        { "DMRG0106", L("merge_method: passthrough", "slices:", "  - sources:", "      - model: org/a", "        layer_range: [0, 2]", "    residual_weight: 0.5"), 6, 5, DiagnosticSeverity.Warning },
        { "DMRG0107", L("merge_method: linear", "models:", "  - model: org/a@v1@v2", "    parameters: {weight: 1}"), 3, 12, DiagnosticSeverity.Error },
        { "DMRG0109", L("merge_method: linear", "models:", "  - model: org/a", "    paramters: {weight: 1}", "parameters: {weight: 1}"), 4, 5, DiagnosticSeverity.Error },
        { "DMRG0120", L("merge_method: linear", "modules:", "  text_decoder:", "    models: [{model: org/a, parameters: {weight: 1}}]",
            "    slices: [{sources: [{model: org/a, layer_range: [0, 2]}]}]"), 5, 5, DiagnosticSeverity.Error },
        { "DMRG0201", L("merge_method: dare-ties", "base_model: org/base", "models:", "  - model: org/a"), 1, 15, DiagnosticSeverity.Error },
        { "DMRG0202", L("merge_method: model_stock", "base_model: org/base", "models:", "  - model: org/a"), 3, 1, DiagnosticSeverity.Error },
        { "DMRG0203", L("merge_method: slerp", "base_model: org/a", "models:", "  - model: org/a", "  - model: org/b", "  - model: org/c", "parameters: {t: 0.5}"), 6, 12, DiagnosticSeverity.Error },
        { "DMRG0204", L("merge_method: ties", "models:", "  - model: org/a", "    parameters: {weight: 1}"), 1, 15, DiagnosticSeverity.Error },
        { "DMRG0205", L("merge_method: linear", "base_model: org/base", "models:", "  - model: org/a", "parameters: {weight: 1}"), 2, 13, DiagnosticSeverity.Warning },
        { "DMRG0206", L("merge_method: slerp", "base_model: org/c", "slices:", "  - sources:", "      - {model: org/a, layer_range: [0, 4]}", "parameters: {t: 0.5}"), 4, 5, DiagnosticSeverity.Error },
        { "DMRG0207", L("merge_method: nuslerp", "base_model: org/a", "models:", "  - model: org/a", "  - model: org/b", "parameters: {weight: 1}"), 2, 13, DiagnosticSeverity.Error },
        { "DMRG0208", L("merge_method: linear", "models:", "  - model: org/a", "  - model: org/a", "parameters: {weight: 1}"), 4, 5, DiagnosticSeverity.Warning },
        { "DMRG0301", L("merge_method: ties", "base_model: org/base", "models:", "  - model: org/a", "    parameters:", "      weight: 1", "      t: 0.5"), 7, 7, DiagnosticSeverity.Warning },
        { "DMRG0302", L("merge_method: ties", "base_model: org/base", "models:", "  - model: org/a", "    parameters:", "      weight: heavy"), 6, 15, DiagnosticSeverity.Error },
        { "DMRG0303", L("merge_method: ties", "base_model: org/base", "models:", "  - model: org/a", "    parameters:", "      weight: 1", "      density: -0.5"), 7, 16, DiagnosticSeverity.Error },
        { "DMRG0304", L("merge_method: slerp", "base_model: org/a", "models:", "  - model: org/b", "parameters:", "  t: [0, 1.5]"), 6, 10, DiagnosticSeverity.Warning },
        { "DMRG0305", L("merge_method: ties", "base_model: org/base", "models:", "  - model: org/a", "    parameters: {density: 0.5}"), 4, 5, DiagnosticSeverity.Error },
        { "DMRG0306", L("merge_method: ties", "base_model: org/base", "models:", "  - model: org/a", "    parameters:", "      weight: [{filter: mlp, value: 0.5}]"), 4, 5, DiagnosticSeverity.Warning },
        { "DMRG0307", L("merge_method: slerp", "base_model: org/a", "models:", "  - model: org/b", "    parameters:", "      t: 0.5"), 6, 7, DiagnosticSeverity.Error },
        { "DMRG0308", L("merge_method: slerp", "base_model: org/a", "models:", "  - model: org/b"), 1, 15, DiagnosticSeverity.Error },
        { "DMRG0309", L("merge_method: slerp", "base_model: org/a", "models:", "  - model: org/b", "parameters:", "  t: {filter: mlp, value: 0.3}"), 1, 15, DiagnosticSeverity.Warning },
        { "DMRG0310", L("merge_method: ties", "base_model: org/base", "models:", "  - model: org/a", "parameters: {weight: 1, int8_mask: true}"), 5, 25, DiagnosticSeverity.Info },
        { "DMRG0311", L("merge_method: ties", "base_model: org/base", "models:", "  - model: org/a", "    parameters:", "      weight: []"), 6, 15, DiagnosticSeverity.Error },
        { "DMRG0312", L("merge_method: ties", "base_model: org/base", "models:", "  - model: org/a", "    parameters:", "      weight: 1", "      densty: 0.5"), 7, 7, DiagnosticSeverity.Error },
        { "DMRG0313", L("merge_method: ties", "base_model: org/base", "models:", "  - model: org/a", "    parameters:", "      weight: 1", "      density: [0.3, 0.7]", "parameters: {trim_scope: model}"), 7, 16, DiagnosticSeverity.Error },
        { "DMRG0320", L("merge_method: ties", "base_model: org/base", "models:", "  - model: org/a", "    parameters:", "      weight: 1e400", "      density: 0.5"), 6, 15, DiagnosticSeverity.Error },
        { "DMRG0330", L("merge_method: linear", "models:", "  - model: org/a", "    parameters:", "      weight: {search: [0.2, 1.0]}"), 5, 15, DiagnosticSeverity.Error },
        { "DMRG0331", L("merge_method: linear", "models:", "  - model: org/a", "    parameters:", "      weight: {search: [1.0, 0.2]}"), 5, 15, DiagnosticSeverity.Error },
        { "DMRG0332", L("merge_method: linear", "models:", "  - model: org/a", "    parameters:", "      weight: {search: [0.1, 0.5, 0.9]}"), 5, 24, DiagnosticSeverity.Error },
        { "DMRG0401", L("merge_method: passthrough", "slices:", "  - sources:", "      - model: org/a", "        layer_range: [4, 2]"), 5, 22, DiagnosticSeverity.Error },
        { "DMRG0402", L("merge_method: linear", "parameters: {weight: 1}", "slices:", "  - sources:", "      - model: org/a", "        layer_range: [0, 4]", "      - model: org/b", "        layer_range: [0, 5]"), 8, 22, DiagnosticSeverity.Error },
        { "DMRG0403", L("merge_method: passthrough", "slices:", "  - sources:", "      - {model: org/a, layer_range: [0, 4]}", "      - {model: org/b, layer_range: [0, 4]}"), 3, 5, DiagnosticSeverity.Error },
        { "DMRG0404", L("merge_method: ties", "base_model: org/base", "parameters: {weight: 1}", "slices:", "  - sources:", "      - {model: org/a, layer_range: [0, 4]}"), 5, 5, DiagnosticSeverity.Error },
        { "DMRG0405", L("merge_method: passthrough", "slices:", "  - sources: []"), 3, 5, DiagnosticSeverity.Error },
        { "DMRG0501", L(LinearOk) + L("dtype: bf16"), 5, 8, DiagnosticSeverity.Error },
        { "DMRG0502", L(LinearOk) + L("tokenizer_source: org/other"), 5, 19, DiagnosticSeverity.Error },
        { "DMRG0503", L(LinearOk) + L("tokenizer_source: union", "tokenizer: {source: union}"), 6, 1, DiagnosticSeverity.Error },
        { "DMRG0504", L(LinearOk) + L("chat_template: chatlm"), 5, 16, DiagnosticSeverity.Error },
        { "DMRG0510", L(LinearOk) + L("tokenizer:", "  tokens: {\"<x>\": {source: {kind: one}}}"), 6, 35, DiagnosticSeverity.Error },
        { "DMRG0601", L("merge_method: linear", "models:", "  - model: ./models/a", "    parameters: {weight: 1}"), 3, 12, DiagnosticSeverity.Warning },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_diagnostic_is_reported_at_its_location(string id, string yaml, int line, int column, DiagnosticSeverity severity)
    {
        var options = new ValidationOptions { PathExists = _ => false, BaseDirectory = "/defs" };
        var result = TestYaml.Load(yaml, options);
        var matches = result.Diagnostics.Where(d => d.Id == id).ToList();
        var diagnostic = Assert.Single(matches);
        Assert.Equal((line, column), (diagnostic.Location.Line, diagnostic.Location.Column));
        Assert.Equal(severity, diagnostic.Severity);
        Assert.Equal(DiagnosticDescriptors.Find(id)!.DefaultSeverity, diagnostic.Severity);
        Assert.Equal("merge.yaml", diagnostic.Location.Path);
        Assert.Equal(severity == DiagnosticSeverity.Error, result.HasErrors || result.Diagnostics.Any(d => d.IsError));
    }

    [Fact]
    public void Every_descriptor_has_a_test_case_and_a_unique_id()
    {
        var tested = Cases.Select(row => (string)row[0]).Concat(StageGraphTests.Cases.Select(row => (string)row[0])).ToHashSet();
        var all = DiagnosticDescriptors.All.Select(d => d.Id).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Empty(all.Except(tested));
        Assert.All(all, id => Assert.Matches("^DMRG0[0-68][0-9][0-9]$", id));
    }

    [Fact]
    public void Canonical_msbuild_format()
    {
        var d = new DefinitionDiagnostic("DMRG0301", DiagnosticSeverity.Warning, "'densty' is not a parameter of ties and is ignored",
            new SourceLocation("defs/merge.yaml", 7, 7), "did you mean 'density'?");
        Assert.Equal("defs/merge.yaml(7,7): warning DMRG0301: 'densty' is not a parameter of ties and is ignored; did you mean 'density'?", d.ToString());
        var e = new DefinitionDiagnostic("DMRG0201", DiagnosticSeverity.Error, "unknown merge method 'x'", new SourceLocation("m.yaml", 1, 15));
        Assert.Equal("m.yaml(1,15): error DMRG0201: unknown merge method 'x'", e.ToString());
        Assert.StartsWith("m.yaml(2,3): info DMRG0310:", new DefinitionDiagnostic("DMRG0310", DiagnosticSeverity.Info, "m", new SourceLocation("m.yaml", 2, 3)).ToString());
    }

    [Theory]
    [InlineData("dare-ties", "dare_ties")]
    [InlineData("TIES", "ties")]
    [InlineData("slurp", "slerp")]
    [InlineData("modelstock", "model_stock")]
    [InlineData("task_arithmatic", "task_arithmetic")]
    public void Unknown_method_suggests_the_closest_names(string written, string expected)
    {
        var result = TestYaml.Load(L("merge_method: " + written, "models:", "  - model: org/a"));
        var d = Assert.Single(result.Diagnostics, x => x.Id == "DMRG0201");
        Assert.Contains("'" + expected + "'", d.Hint);
    }

    [Fact]
    public void Unknown_keys_get_did_you_mean_hints_at_every_level()
    {
        var result = TestYaml.Load(L(
            "merge_method: linear",
            "modles:",
            "  - model: org/a",
            "models:",
            "  - model: org/a",
            "    weight: 1",
            "parameters: {weight: 1, normalise: true}",
            "dtyp: float16"));
        string? Hint(int line) => result.Diagnostics.Single(d => d.Location.Line == line && d.Id is "DMRG0101" or "DMRG0109" or "DMRG0301" or "DMRG0312").Hint;
        Assert.Equal("did you mean 'models' or 'modules'?", Hint(2));
        Assert.Contains("put it under 'parameters:'", Hint(6));
        Assert.Equal("did you mean 'normalize'?", Hint(7));
        Assert.Equal("did you mean 'dtype'?", Hint(8));
    }

    /// <summary>yaml, line of the near miss (hand-counted), id, the suggestion.</summary>
    public static TheoryData<string, int, string, string> NearMisses => new()
    {
        { L("merge_method: ties", "base_model: org/base", "models:", "  - model: org/a", "    parameters:", "      weight: 1", "      desnity: 0.5"), 7, "DMRG0312", "'density'" },
        { L("merge_method: ties", "base_model: org/base", "models:", "  - model: org/a", "    parameters:", "      wieght: 1", "      density: 0.5"), 6, "DMRG0312", "'weight'" },
        { L("merge_method: linear", "models:", "  - model: org/a", "    paramters: {weight: 1}", "  - model: org/b", "    parameters: {weight: 1}"), 4, "DMRG0109", "'parameters'" },
        { L("merge_method: linear", "base_modle: org/a", "models:", "  - model: org/a", "    parameters: {weight: 1}"), 2, "DMRG0109", "'base_model'" },
    };

    [Theory]
    [MemberData(nameof(NearMisses))]
    public void A_near_miss_of_a_real_name_is_an_error_unless_unknown_keys_are_allowed(string yaml, int line, string id, string suggestion)
    {
        var strict = TestYaml.Load(yaml);
        var error = Assert.Single(strict.Diagnostics, d => d.Id == id);
        Assert.Equal(DiagnosticSeverity.Error, error.Severity);
        Assert.Equal(line, error.Location.Line);
        Assert.Contains(suggestion, error.Hint);
        Assert.True(strict.HasErrors);

        var allowed = TestYaml.Load(yaml, new ValidationOptions { AllowUnknownKeys = true });
        var warning = Assert.Single(allowed.Diagnostics, d => d.Id == id);
        Assert.Equal(DiagnosticSeverity.Warning, warning.Severity);
        Assert.Equal(line, warning.Location.Line);
        Assert.Contains("ignored", warning.Message);
        Assert.Contains(suggestion, warning.Hint);
    }

    [Fact]
    public void An_unknown_key_with_no_close_match_stays_a_warning()
    {
        var result = TestYaml.Load(L("merge_method: linear", "models:", "  - model: org/a", "    parameters: {weight: 1, colour: blue}", "notes: merged for the demo"));
        Assert.False(result.HasErrors);
        Assert.Contains(result.Diagnostics, d => d.Id == "DMRG0301" && d.Severity == DiagnosticSeverity.Warning && d.Location.Line == 4);
        Assert.Contains(result.Diagnostics, d => d.Id == "DMRG0101" && d.Severity == DiagnosticSeverity.Warning && d.Location.Line == 5);
    }

    [Fact]
    public void Parameter_of_another_method_names_its_owners()
    {
        var result = TestYaml.Load(L("merge_method: karcher", "models:", "  - model: org/a", "    parameters: {weight: 2}", "  - model: org/b"));
        var d = Assert.Single(result.Diagnostics, x => x.Id == "DMRG0301");
        Assert.Contains("linear", d.Hint);
        Assert.False(result.HasErrors);
    }

    [Fact]
    public void Several_mistakes_are_all_reported_in_position_order()
    {
        var yaml = L(
            "merge_method: ties",                          // 1
            "models:",                                     // 2
            "  - model: org/a",                            // 3: no weight for a (and no base model)
            "    parameters:",                             // 4
            "      densty: 0.5",                           // 5: typo
            "      t: 0.5",                                // 6: not a ties parameter
            "  - model: org/b",                            // 7
            "    parameters: {weight: 1, density: -1}",    // 8: density out of range
            "parameters: {normalize: 1}",                  // 9: wrong type
            "dtype: fp16",                                 // 10
            "chat_template: chatml",                       // 11: fine
            "tokenizer_source: base");                     // 12: no base model
        var result = TestYaml.Load(yaml);
        var ids = result.Diagnostics.Select(d => (d.Id, d.Location.Line)).ToList();
        Assert.Equal(new[]
        {
            ("DMRG0204", 1), ("DMRG0305", 3), ("DMRG0312", 5), ("DMRG0301", 6), ("DMRG0303", 8), ("DMRG0302", 9),
            ("DMRG0501", 10), ("DMRG0502", 12),
        }, ids);
        Assert.True(result.HasErrors);
        var ex = Assert.Throws<DefinitionException>(() => DefinitionException.ThrowIfErrors(result));
        Assert.Equal(8, ex.Diagnostics.Count);
        Assert.Contains("merge.yaml(8,", ex.Message);
    }

    [Theory]
    [InlineData("0.9", "0.15", true)]  // 0.9 + 0.15 >= 1
    [InlineData("0.1", "0.15", true)]  // 0.1 - 0.15 <= 0
    [InlineData("0.5", "0.15", false)]
    [InlineData("1", "0.15", false)]   // density 1: no sparsification, nothing to check
    [InlineData("0.8", "0.25", true)]  // 0.8 + 0.25 >= 1
    public void Della_keep_window_must_stay_inside_zero_one(string density, string epsilon, bool error)
    {
        var result = TestYaml.Load(L("merge_method: della", "base_model: org/base", "models:", "  - model: org/a",
            "    parameters: {weight: 1, density: " + density + "}", "parameters: {epsilon: " + epsilon + "}"));
        Assert.Equal(error, result.Diagnostics.Any(d => d.Id == "DMRG0303" && d.Location.Line == 5));
    }

    /// <summary>trim_scope: model takes one threshold per model, so the engine needs one density per model over all tensors
    /// (it used to find out mid-run, without a location).</summary>
    [Theory]
    [InlineData("model", "[0.3, 0.7]", "", true)]                                // a gradient varies over the layers
    [InlineData("model", "[0.5, 0.5]", "", false)]                               // a gradient of equal values is one number
    [InlineData("model", "[{filter: mlp, value: 0.3}, {value: 0.7}]", "", true)] // filters that differ
    [InlineData("model", "[{filter: mlp, value: 0.3}, {value: 0.3}]", "", false)]
    [InlineData("tensor", "[0.3, 0.7]", "", false)]                              // per-tensor thresholds: any density
    [InlineData("model", "0.5", "", false)]
    [InlineData("model", "0.5", "slices", true)]                                 // 0.5 in one slice, 0.25 in the other
    public void Model_trim_scope_needs_one_density_per_model(string scope, string density, string layout, bool error)
    {
        var yaml = layout == "slices"
            ? L("merge_method: ties", "base_model: org/base", "parameters: {weight: 1, trim_scope: " + scope + "}", "slices:",
                "  - sources:", "      - {model: org/base, layer_range: [0, 2]}", "      - {model: org/a, layer_range: [0, 2], parameters: {density: " + density + "}}",
                "  - sources:", "      - {model: org/base, layer_range: [2, 4]}", "      - {model: org/a, layer_range: [2, 4], parameters: {density: 0.25}}")
            : L("merge_method: ties", "base_model: org/base", "models:", "  - model: org/a", "    parameters:", "      weight: 1",
                "      density: " + density, "parameters: {trim_scope: " + scope + "}");
        var result = TestYaml.Load(yaml);
        var found = result.Diagnostics.Where(d => d.Id == "DMRG0313").ToList();
        Assert.Equal(error, found.Count > 0);
        if (error)
        {
            Assert.Contains("'org/a'", found[0].Message, StringComparison.Ordinal);
            Assert.Equal(layout == "slices" ? 10 : 7, found[0].Location.Line);
        }
    }

    [Fact]
    public void Union_tokenizer_and_the_tokenizer_section_are_accepted()
    {
        Assert.Empty(TestYaml.Load(L(LinearOk) + L("tokenizer_source: union")).Diagnostics);
        Assert.Empty(TestYaml.Load(L(LinearOk) + L(
            "tokenizer:",
            "  source: union",
            "  pad_to_multiple_of: 64",
            "  tokens:",
            "    \"<|im_start|>\": {source: org/a, force: true}",
            "    \"<pad>\": {source: {kind: zero}}",
            "    \"<tool>\": {source: {kind: model_token, model: org/a, token: \"<s>\"}}")).Diagnostics);
    }

    [Theory]
    [InlineData("  pad_to_multiple_of: 0", "DMRG0102", 6, 23)]
    [InlineData("  pad_to_multiple_of: -8", "DMRG0102", 6, 23)]
    [InlineData("  tokens: {\"<x>\": {source: {kind: model_token, model: org/a}}}", "DMRG0510", 6, 28)]
    [InlineData("  tokens: {\"<x>\": {source: {kind: model_token, model: org/a, token: a, token_id: 3}}}", "DMRG0510", 6, 28)]
    [InlineData("  tokens: {\"<x>\": {source: {kind: zeros}}}", "DMRG0510", 6, 35)]
    [InlineData("  tokens: {\"<x>\": {source: org/nope}}", "DMRG0510", 6, 28)]
    [InlineData("  tokens: {\"<x>\": {force: true}}", "DMRG0510", 6, 12)]
    [InlineData("  source: org/nope", "DMRG0502", 6, 11)]
    [InlineData("  sorce: union", "DMRG0109", 6, 3)]
    public void Tokenizer_section_errors_are_located(string line, string id, int row, int column)
    {
        var result = TestYaml.Load(L(LinearOk) + L("tokenizer:", line));
        var diagnostic = Assert.Single(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal((id, row, column), (diagnostic.Id, diagnostic.Location.Line, diagnostic.Location.Column));
    }

    [Fact]
    public void Valid_definitions_have_no_diagnostics()
    {
        Assert.Empty(TestYaml.Load(L(LinearOk)).Diagnostics);
        Assert.Empty(TestYaml.Load(L(
            "merge_method: della_linear",
            "base_model: org/base",
            "models:",
            "  - model: org/a",
            "    parameters: {weight: [0.2, 0.8], density: 0.6, epsilon: 0.1}",
            "parameters: {lambda: 1.1, rescale: inverse}",
            "dtype: torch.bfloat16",
            "out_dtype: float16",
            "tokenizer_source: org/a",
            "chat_template: \"{% for m in messages %}{{ m.content }}{% endfor %}\"",
            "seed: 42")).Diagnostics);
    }

    [Fact]
    public void Numbers_are_culture_independent()
    {
        var saved = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = new CultureInfo("de-DE");
            CultureInfo.CurrentUICulture = new CultureInfo("de-DE");
            Assert.Equal(",", CultureInfo.CurrentCulture.NumberFormat.NumberDecimalSeparator); // the test is meaningful
            var result = TestYaml.Load(L("merge_method: linear", "models:", "  - model: org/a", "    parameters: {weight: 0.5}", "  - model: org/b", "    parameters: {weight: 1.5e-1}"));
            Assert.Empty(result.Diagnostics);
            var models = result.Definition!.Models!;
            Assert.Equal(0.5, models[0].Parameters["weight"].Evaluate("x", 0));
            Assert.Equal(0.15, models[1].Parameters["weight"].Evaluate("x", 0));
            var comma = TestYaml.Load(L("merge_method: linear", "models:", "  - model: org/a", "    parameters: {weight: '0,5'}"));
            var d = Assert.Single(comma.Diagnostics, x => x.Id == "DMRG0302");
            Assert.Equal("use '.' as the decimal separator", d.Hint);
            var range = TestYaml.Load(L("merge_method: slerp", "base_model: a", "models: [{model: b}]", "parameters: {t: 1.25}"));
            Assert.Contains("1.25", Assert.Single(range.Diagnostics).Message);
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
            CultureInfo.CurrentUICulture = saved;
        }
    }
}
