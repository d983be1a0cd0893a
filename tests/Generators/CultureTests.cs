using System.Globalization;

namespace DotnetMerge.Generators.Tests;

/// <summary>The generated code does not depend on the build machine's culture.</summary>
public class CultureTests
{
    [Fact]
    public void Numbers_use_a_dot_under_de_DE()
    {
        const string yaml = """
            merge_method: task_arithmetic
            base_model: ./models/base
            models:
              - model: ./models/a
                parameters:
                  weight: 0.5
              - model: ./models/b
                parameters:
                  weight: -1e-3
            parameters:
              lambda: 1.25
            """;
        var invariant = GeneratorHarness.Run(GeneratorHarness.PathOf("culture.merge.yaml"), yaml).Sources.Single().Value;

        var (culture, uiCulture) = (CultureInfo.CurrentCulture, CultureInfo.CurrentUICulture);
        try
        {
            CultureInfo.CurrentCulture = CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo("de-DE");
            Assert.Equal("0,5", 0.5.ToString(CultureInfo.CurrentCulture)); // the culture really is in effect
            var run = GeneratorHarness.Run(GeneratorHarness.PathOf("culture.merge.yaml"), yaml);
            var source = run.Sources.Single().Value;

            Assert.Contains("GetPerModel<double>(Models.A, \"weight\", 0.5)", source, StringComparison.Ordinal);
            Assert.Contains("GetPerModel<double>(Models.B, \"weight\", -0.001)", source, StringComparison.Ordinal);
            Assert.Contains("GetGlobal<double>(\"lambda\", 1.25)", source, StringComparison.Ordinal);
            Assert.DoesNotContain("0,5", source, StringComparison.Ordinal);
            Assert.Equal(invariant, source);
            Assert.Empty(run.CompilationDiagnostics());
        }
        finally
        {
            (CultureInfo.CurrentCulture, CultureInfo.CurrentUICulture) = (culture, uiCulture);
        }
    }
}
