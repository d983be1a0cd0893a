namespace DotnetMerge.Definitions.Tests;

/// <summary>The search forms of <c>dotnet merge tune</c>: <c>{search: [min, max]}</c> and <c>{search: {values: [...]}}</c>.</summary>
public class SearchFormTests
{
    private static string L(params string[] lines) => TestYaml.Lines(lines);

    private static string Ties(params string[] modelParameters)
        => L(new[] { "merge_method: ties", "base_model: org/base", "models:", "  - model: org/a", "    parameters:" }.Concat(modelParameters.Select(p => "      " + p)).ToArray());

    private static readonly ValidationOptions ForTune = new() { AllowSearch = true };

    [Fact]
    public void Range_AndSet_AreRead_WithTheirTextSpans()
    {
        var text = Ties("weight: {search: [0.2, 1.0]}", "density:", "  search:", "    values: [0.3, 0.5, 0.7]   # three", "# after");
        var d = TestYaml.Definition(text);
        var weight = Assert.IsType<SearchSetting>(d.Models![0].Parameters["weight"]);
        Assert.Equal(SearchKind.Range, weight.Kind);
        Assert.Equal((0.2, 1.0), (weight.Min, weight.Max));
        Assert.Equal("{search: [0.2, 1.0]}", text.Substring(weight.SourceStart, weight.SourceLength));
        Assert.Equal(new SourceLocation("merge.yaml", 6, 15), weight.Location);
        Assert.Equal(new SourceLocation("merge.yaml", 6, 30), weight.ElementLocation(1));

        var density = Assert.IsType<SearchSetting>(d.Models[0].Parameters["density"]);
        Assert.Equal(SearchKind.Choice, density.Kind);
        Assert.Equal(new object?[] { 0.3, 0.5, 0.7 }, density.Choices);
        Assert.Equal("search:\n          values: [0.3, 0.5, 0.7]", text.Substring(density.SourceStart, density.SourceLength));
        Assert.Empty(TestYaml.Load(text, ForTune).Diagnostics);
    }

    [Fact]
    public void OutsideTune_ASearchForm_IsAnErrorThatNamesTune()
    {
        var result = TestYaml.Load(Ties("weight: 1", "density: {search: [0.2, 0.8]}"));
        var d = Assert.Single(result.Diagnostics, x => x.IsError);
        Assert.Equal("DMRG0330", d.Id);
        Assert.Equal((7, 16), (d.Location.Line, d.Location.Column));
        Assert.Contains("dotnet merge tune", d.ToString());
        Assert.DoesNotContain(TestYaml.Load(Ties("weight: 1", "density: {search: [0.2, 0.8]}"), ForTune).Diagnostics, x => x.IsError);
    }

    [Theory]
    [InlineData("density: {search: [-0.5, 0.8]}", "DMRG0303", 7, 26)]     // the min bound is below density's 0
    [InlineData("density: {search: [.nan, 0.5]}", "DMRG0320", 7, 26)]     // a bound that is not finite, located at it
    [InlineData("density: {search: [0.2, .inf]}", "DMRG0320", 7, 31)]
    [InlineData("density: {search: [0.8, 0.2]}", "DMRG0331", 7, 16)]      // min > max
    [InlineData("density: {search: [0.5, 0.5]}", "DMRG0331", 7, 16)]
    [InlineData("density: {search: {values: [0.5, -1]}}", "DMRG0303", 7, 40)]
    [InlineData("density: {search: {values: [0.5, dense]}}", "DMRG0302", 7, 40)]
    [InlineData("density: {search: {values: []}}", "DMRG0332", 7, 34)]
    [InlineData("density: {search: [0.2, 0.8], filter: mlp}", "DMRG0332", 7, 37)]
    [InlineData("density: {search: {range: [0.2, 0.8]}}", "DMRG0332", 7, 26)]
    [InlineData("density: {search: 0.5}", "DMRG0332", 7, 25)]
    public void BadSearchForms_AreLocatedErrors(string line, string id, int lineNumber, int column)
    {
        var result = TestYaml.Load(Ties("weight: 1", line), ForTune);
        var d = Assert.Single(result.Diagnostics, x => x.IsError);
        Assert.Equal(id, d.Id);
        Assert.Equal((lineNumber, column), (d.Location.Line, d.Location.Column));
    }

    [Fact]
    public void ARange_OnABooleanParameter_IsAWrongType_ButASetIsChecked()
    {
        var text = L("merge_method: ties", "base_model: org/base", "models:", "  - model: org/a", "    parameters: {weight: 1, density: 0.5}", "parameters:", "  normalize: {search: [0, 1]}");
        Assert.Equal("DMRG0302", Assert.Single(TestYaml.Load(text, ForTune).Diagnostics, x => x.IsError).Id);
        var set = text.Replace("{search: [0, 1]}", "{search: {values: [true, false]}}");
        Assert.DoesNotContain(TestYaml.Load(set, ForTune).Diagnostics, x => x.IsError);
    }

    [Fact]
    public void InAFilteredEntry_ASearchFormIsRead()
    {
        var d = TestYaml.Definition(Ties("weight: [{filter: mlp, value: {search: [0.1, 0.9]}}, {value: 1}]", "density: 0.5"));
        var c = Assert.IsType<ConditionalSetting>(d.Models![0].Parameters["weight"]);
        Assert.IsType<SearchSetting>(c.Entries[0].Value);
    }

    [Fact]
    public void Writer_WritesTheSearchForm_AndItReadsBack()
    {
        var d = TestYaml.Definition(Ties("weight: {search: [0.25, 1]}", "density: {search: {values: [0.3, 'x y']}}"));
        var written = DefinitionWriter.Write(d);
        Assert.Contains("weight: {search: [0.25, 1]}", written);
        Assert.Contains("density: {search: {values: [0.3, 'x y']}}", written);
        var again = TestYaml.Definition(written);
        var density = Assert.IsType<SearchSetting>(again.Models![0].Parameters["density"]);
        Assert.Equal(new object?[] { 0.3, "x y" }, density.Choices);
    }

    [Fact]
    public void Evaluate_Refuses_SoThatNoGuessedValueIsMerged()
    {
        var s = SearchSetting.Range(0.2, 0.8);
        Assert.Throws<InvalidOperationException>(() => s.Evaluate("model.layers.0.mlp.up_proj.weight", 0));
    }
}
