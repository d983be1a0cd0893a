namespace DotnetMerge.Definitions.Tests;

public class CatalogTests
{
    /// <summary>Transcribed from the method summary of the mergekit reference (name, min, max, base rule, vocabulary rule,
    /// randomized, parameters as "name:scope:default" with "req" for required).</summary>
    public static TheoryData<string, int, int?, BaseModelRule, VocabularyRule, bool, string> Expected => new()
    {
        { "linear", 1, null, BaseModelRule.NotUsed, VocabularyRule.CommonSubmatrix, false, "weight:m:req normalize:g:true" },
        { "task_arithmetic", 1, null, BaseModelRule.Required, VocabularyRule.CropToBase, false, "weight:m:req density:m:1 normalize:g:false rescale:g:false lambda:g:1 int8_mask:g:false" },
        { "ties", 1, null, BaseModelRule.Required, VocabularyRule.CropToBase, false, "weight:m:req density:m:1 normalize:g:true rescale:g:false lambda:g:1 int8_mask:g:false" },
        { "dare_ties", 1, null, BaseModelRule.Required, VocabularyRule.CropToBase, true, "weight:m:req density:m:1 normalize:g:false rescale:g:true lambda:g:1 int8_mask:g:false" },
        { "dare_linear", 1, null, BaseModelRule.Required, VocabularyRule.CropToBase, true, "weight:m:req density:m:1 normalize:g:false rescale:g:true lambda:g:1 int8_mask:g:false" },
        { "breadcrumbs", 1, null, BaseModelRule.Required, VocabularyRule.CropToBase, false, "weight:m:req density:m:1 gamma:m:0.01 normalize:g:false rescale:g:false lambda:g:1 int8_mask:g:false" },
        { "breadcrumbs_ties", 1, null, BaseModelRule.Required, VocabularyRule.CropToBase, false, "weight:m:req density:m:1 gamma:m:0.01 normalize:g:false rescale:g:false lambda:g:1 int8_mask:g:false" },
        { "della", 1, null, BaseModelRule.Required, VocabularyRule.CropToBase, true, "weight:m:req density:m:1 epsilon:m:0.15 normalize:g:true rescale:g:true lambda:g:1 int8_mask:g:false" },
        { "della_linear", 1, null, BaseModelRule.Required, VocabularyRule.CropToBase, true, "weight:m:req density:m:1 epsilon:m:0.15 normalize:g:false rescale:g:true lambda:g:1 int8_mask:g:false" },
        { "sce", 1, null, BaseModelRule.Required, VocabularyRule.MustMatch, false, "select_topk:g:1 int8_mask:g:false" },
        { "ram", 1, null, BaseModelRule.Required, VocabularyRule.MustMatch, false, "epsilon:g:1E-05" },
        { "ramplus_tl", 1, null, BaseModelRule.Required, VocabularyRule.MustMatch, false, "epsilon:g:1E-05 r:g:0.1 alpha:g:0.2" },
        { "slerp", 1, 1, BaseModelRule.RequiredAmongInputs, VocabularyRule.CommonSubmatrix, false, "t:g:req" },
        { "nuslerp", 2, 2, BaseModelRule.OptionalDistinct, VocabularyRule.CommonSubmatrix, false, "weight:m:req nuslerp_flatten:g:true nuslerp_row_wise:g:false" },
        { "multislerp", 2, null, BaseModelRule.Optional, VocabularyRule.MustMatch, false, "weight:m:req normalize_weights:g:true eps:g:1E-08" },
        { "karcher", 2, null, BaseModelRule.NotUsed, VocabularyRule.MustMatch, false, "max_iter:g:10 tol:g:1E-05" },
        { "model_stock", 2, null, BaseModelRule.Required, VocabularyRule.CommonSubmatrix, false, "filter_wise:g:false" },
        { "nearswap", 1, 1, BaseModelRule.Required, VocabularyRule.MustMatch, false, "t:g:req" },
        { "arcee_fusion", 1, 1, BaseModelRule.Required, VocabularyRule.CommonSubmatrix, true, "" },
        { "passthrough", 1, 1, BaseModelRule.NotUsed, VocabularyRule.MustMatch, false, "scale:m:none" },
    };

    [Theory]
    [MemberData(nameof(Expected))]
    public void Method_matches_the_reference(string name, int min, int? max, BaseModelRule baseRule, VocabularyRule vocabulary, bool randomized, string parameters)
    {
        var m = MethodCatalog.Find(name);
        Assert.NotNull(m);
        Assert.Equal((min, max, baseRule, vocabulary, randomized), (m!.MinModels, m.MaxModels, m.BaseRule, m.VocabularyRule, m.Randomized));
        string Describe(ParameterDescriptor p) => p.Name + ":" + (p.Scope == ParameterScope.PerModel ? "m" : "g") + ":"
            + (p.Required ? "req" : p.Default switch
            {
                null => "none",
                bool b => b ? "true" : "false",
                double d => d.ToString("G", System.Globalization.CultureInfo.InvariantCulture),
                var o => o.ToString(),
            });
        // The reference is mergekit's table: our opt-in extensions (flagged Extension) are checked separately.
        Assert.Equal(parameters, string.Join(" ", m.Parameters.Where(p => !p.Extension).Select(Describe)));
        Assert.False(string.IsNullOrWhiteSpace(m.Description));
        Assert.False(string.IsNullOrWhiteSpace(m.PrettyName));
    }

    [Fact]
    public void Extensions_are_flagged_and_opt_in()
    {
        var extensions = MethodCatalog.All.SelectMany(m => m.Parameters.Where(p => p.Extension).Select(p => m.Name + "." + p.Name));
        Assert.Equal(new[] { "ties.trim_scope" }, extensions);
        var trimScope = MethodCatalog.Find("ties")!.FindParameter("trim_scope")!;
        Assert.Equal("tensor", trimScope.Default); // mergekit's behaviour unless asked otherwise
        Assert.Equal(new[] { "tensor", "model" }, trimScope.AllowedValues);
    }

    [Fact]
    public void Catalog_has_exactly_the_twenty_methods()
    {
        var names = Expected.Select(r => (string)r[0]).OrderBy(n => n, StringComparer.Ordinal);
        Assert.Equal(names, MethodCatalog.All.Select(m => m.Name).OrderBy(n => n, StringComparer.Ordinal));
        Assert.Null(MethodCatalog.Find("Linear"));
    }

    [Fact]
    public void Ranges_and_special_flags()
    {
        var ties = MethodCatalog.Find("ties")!;
        Assert.Equal(0.0, ties.FindParameter("density")!.Min);
        Assert.True(ties.FindParameter("int8_mask")!.Ignored);
        Assert.Equal(new[] { "l1", "inverse" }, ties.FindParameter("rescale")!.AllowedValues);
        Assert.Equal(ParameterType.Integer, MethodCatalog.Find("karcher")!.FindParameter("max_iter")!.Type);
        var t = MethodCatalog.Find("slerp")!.FindParameter("t")!;
        Assert.Equal((0.0, 1.0, (double?)null, (double?)null), (t.WarnMin, t.WarnMax, t.Min, t.Max));
        Assert.Equal(0.0, MethodCatalog.Find("breadcrumbs")!.FindParameter("gamma")!.Min);
        Assert.Equal(0.0, MethodCatalog.Find("ram")!.FindParameter("epsilon")!.Min);
    }

    [Theory]
    [InlineData("densty", "density")]
    [InlineData("wieght", "weight")]
    [InlineData("normalise", "normalize")]
    [InlineData("lamda", "lambda")]
    public void Suggestions_cover_common_typos(string typo, string expected)
        => Assert.Equal(expected, NameSuggester.Suggest(typo, MethodCatalog.Find("ties")!.Parameters.Select(p => p.Name)).First());

    [Fact]
    public void No_suggestion_for_unrelated_names()
    {
        Assert.Empty(MethodCatalog.Suggest("frobnicate"));
        Assert.Equal(3, NameSuggester.Distance("kitten", "sitting"));
        Assert.Equal(1, NameSuggester.Distance("ab", "ba"));
    }

    [Fact]
    public void Docs_describe_every_method_and_parameter()
    {
        var docs = File.ReadAllText(Path.Combine(RepoRoot(), "docs", "configuration.md"));
        foreach (var method in MethodCatalog.All)
        {
            var heading = "### `" + method.Name + "`";
            var start = docs.IndexOf(heading, StringComparison.Ordinal);
            Assert.True(start >= 0, "docs/configuration.md has no section " + heading);
            var end = docs.IndexOf("\n### ", start + heading.Length, StringComparison.Ordinal);
            var section = end < 0 ? docs.Substring(start) : docs.Substring(start, end - start);
            foreach (var p in method.Parameters)
                Assert.True(section.Contains("`" + p.Name + "`", StringComparison.Ordinal), $"section {heading} does not mention `{p.Name}`");
        }

        foreach (var key in new[] { "merge_method", "models", "slices", "base_model", "parameters", "dtype", "out_dtype", "tokenizer_source", "chat_template", "seed" })
            Assert.Contains("`" + key + "`", docs);
        foreach (var d in DiagnosticDescriptors.All)
            Assert.Contains(d.Id, docs);
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "dotnet-merge.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
