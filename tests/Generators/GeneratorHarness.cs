using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using Basic.Reference.Assemblies;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace DotnetMerge.Generators.Tests;

/// <summary>A definition file handed to the generator: path, text and optional <c>PlanName</c> metadata.</summary>
public sealed record DefinitionFile(string Path, string Text, string? PlanName = null);

/// <summary>The outcome of one generator run over an in-memory compilation.</summary>
public sealed record GeneratorRun(
    GeneratorDriver Driver,
    CSharpCompilation Input,
    Compilation Output,
    ImmutableArray<Diagnostic> GeneratorDiagnostics,
    IReadOnlyDictionary<string, string> Sources)
{
    /// <summary>Compiler diagnostics of the output compilation (user code + generated code), hidden ones excluded.</summary>
    public IReadOnlyList<Diagnostic> CompilationDiagnostics()
        => Output.GetDiagnostics().Where(d => d.Severity != DiagnosticSeverity.Hidden).ToList();

    /// <summary>The output compilation emitted (it must compile) and loaded into the test process.</summary>
    public System.Reflection.Assembly Load()
    {
        using var stream = new MemoryStream();
        var emit = Output.Emit(stream);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics));
        return System.Reflection.Assembly.Load(stream.ToArray());
    }
}

/// <summary>Runs <see cref="MergePlanGenerator"/> the way the compiler does: AdditionalFiles plus analyzer config options
/// (build_property.* and build_metadata.AdditionalFiles.*), reference assemblies of .NET 10 and DotnetMerge.dll.</summary>
public static class GeneratorHarness
{
    public const string ProjectDirectory = "/src/Sample";

    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    public static IReadOnlyList<MetadataReference> References { get; } = Net100.References.All
        .Append(MetadataReference.CreateFromFile(typeof(DotnetMerge.Plans.TypedMergePlan<>).Assembly.Location))
        .Append(MetadataReference.CreateFromFile(typeof(DotnetMerge.Definitions.MergeDefinition).Assembly.Location))
        .ToList();

    public static CSharpCompilation Compilation(params string[] sources)
        => CSharpCompilation.Create(
            "Sample",
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: ProjectDirectory + "/User" + i + ".cs")),
            References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, warningLevel: 9999));

    public static GeneratorDriver CreateDriver(IEnumerable<DefinitionFile> files, IReadOnlyDictionary<string, string>? properties = null)
        => CreateDriver(files, out _, properties);

    /// <summary>As above; <paramref name="texts"/> are the AdditionalText instances handed to the driver (to replace one later).</summary>
    public static GeneratorDriver CreateDriver(IEnumerable<DefinitionFile> files, out IReadOnlyList<AdditionalText> texts,
        IReadOnlyDictionary<string, string>? properties = null)
    {
        var list = files.ToList();
        texts = list.Select(f => (AdditionalText)new InMemoryAdditionalText(f.Path, f.Text)).ToList();
        var globals = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["build_property.RootNamespace"] = "Sample",
            ["build_property.DotnetMergeCheckModelPaths"] = "false",
            ["build_property.ProjectDir"] = ProjectDirectory + "/",
        };
        foreach (var (key, value) in properties ?? new Dictionary<string, string>())
            globals["build_property." + key] = value;
        var perFile = list.ToDictionary(
            f => f.Path,
            f => f.PlanName is null
                ? new Dictionary<string, string>()
                : new Dictionary<string, string> { ["build_metadata.AdditionalFiles.PlanName"] = f.PlanName });
        return CSharpGeneratorDriver.Create(
            new[] { new MergePlanGenerator().AsSourceGenerator() },
            texts,
            ParseOptions,
            new OptionsProvider(globals, perFile),
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
    }

    public static GeneratorRun Run(IEnumerable<DefinitionFile> files, IReadOnlyDictionary<string, string>? properties = null, params string[] userCode)
    {
        var compilation = Compilation(userCode);
        var driver = CreateDriver(files, properties).RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        var sources = driver.GetRunResult().Results.SelectMany(r => r.GeneratedSources)
            .ToDictionary(s => s.HintName, s => s.SourceText.ToString(), StringComparer.Ordinal);
        return new GeneratorRun(driver, compilation, output, diagnostics, sources);
    }

    public static GeneratorRun Run(string path, string yaml, params string[] userCode)
        => Run(new[] { new DefinitionFile(path, yaml) }, null, userCode);

    /// <summary>The path of a definition in the fake project directory.</summary>
    public static string PathOf(string fileName) => ProjectDirectory + "/merges/" + fileName;

    /// <summary>The directory of this source file (for baselines and definition fixtures).</summary>
    public static string SourceDirectory([CallerFilePath] string path = "") => System.IO.Path.GetDirectoryName(path)!;

    public sealed class InMemoryAdditionalText(string path, string text) : AdditionalText
    {
        private readonly SourceText _text = SourceText.From(text);

        public override string Path { get; } = path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
    }

    private sealed class OptionsProvider(Dictionary<string, string> globals, Dictionary<string, Dictionary<string, string>> perFile)
        : AnalyzerConfigOptionsProvider
    {
        public override AnalyzerConfigOptions GlobalOptions { get; } = new Options(globals);

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => new Options(new Dictionary<string, string>());

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile)
            => new Options(perFile.TryGetValue(textFile.Path, out var values) ? values : new Dictionary<string, string>());
    }

    private sealed class Options(Dictionary<string, string> values) : AnalyzerConfigOptions
    {
        public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value)
            => values.TryGetValue(key, out value);
    }
}
