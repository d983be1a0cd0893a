using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace DotnetMerge.Definitions;

/// <summary>Reads mergekit's YAML merge definitions (plus dotnet-merge's extensions) into a <see cref="MergeDefinition"/>,
/// recording the location of every part. Reports syntax and schema problems; semantic checks are in
/// <see cref="DefinitionValidator"/>. No file-system access.</summary>
public static class DefinitionParser
{
    /// <summary>Reads a single-document definition. A file with several YAML documents is a multi-stage definition:
    /// it is an error here (DMRG0004); read it with <see cref="ParseDocuments"/>.</summary>
    public static ParseResult Parse(string yamlText, string sourcePath)
        => Parse(yamlText, sourcePath, CancellationToken.None);

    /// <summary>As <see cref="Parse(string, string)"/>; reading stops with <see cref="OperationCanceledException"/>
    /// soon after <paramref name="cancellationToken"/> is cancelled. The text is read within <see cref="DefinitionLimits"/>.</summary>
    public static ParseResult Parse(string yamlText, string sourcePath, CancellationToken cancellationToken)
        => new DefinitionReader(sourcePath ?? string.Empty).Read(yamlText ?? string.Empty, cancellationToken);

    /// <summary>Reads every YAML document of a file (the stages of a multi-stage definition, mergekit-multi), one
    /// result per document, each located in the whole file. A YAML syntax error anywhere yields one result holding
    /// only that error.</summary>
    public static IReadOnlyList<ParseResult> ParseDocuments(string yamlText, string sourcePath, CancellationToken cancellationToken = default)
        => new DefinitionReader(sourcePath ?? string.Empty).ReadAll(yamlText ?? string.Empty, cancellationToken);

    /// <summary>Loads a YAML file that is not a merge definition (a <c>dotnet merge moe</c> config) within the same
    /// <see cref="DefinitionLimits"/> and with the same located syntax diagnostics: the stream, or null when it cannot be
    /// read (then <paramref name="diagnostics"/> says why, at file(line,col)).</summary>
    public static YamlStream? LoadYaml(string yamlText, string sourcePath, out IReadOnlyList<DefinitionDiagnostic> diagnostics,
        CancellationToken cancellationToken = default)
        => new DefinitionReader(sourcePath ?? string.Empty).LoadStream(yamlText ?? string.Empty, cancellationToken, out diagnostics);

    /// <summary>Reads one model reference of a YAML file that is not a merge definition (a <c>dotnet merge moe</c> config) by the
    /// rules of a definition's references: the string form <c>path[@revision][+lora[@revision]]</c> or the mapping with
    /// <c>model</c>, <c>lora</c> (and <c>override_architecture</c>). The reference, or null when the node is not one; the
    /// problems, located at file(line,col), are in <paramref name="diagnostics"/>.</summary>
    public static ModelReference? ReadModelReference(YamlNode node, string key, string sourcePath, out IReadOnlyList<DefinitionDiagnostic> diagnostics)
        => new DefinitionReader(sourcePath ?? string.Empty).ReadReference(node, key, out diagnostics);

    /// <summary>"bfloat16", "float16", "float32", "float64" for the names mergekit/torch accept (optionally with a
    /// "torch." prefix); the trimmed input otherwise.</summary>
    public static string NormalizeDtype(string text)
    {
        var name = text.Trim();
        if (name.StartsWith("torch.", StringComparison.Ordinal))
            name = name.Substring("torch.".Length);
        return name switch
        {
            "bfloat16" => "bfloat16",
            "float16" or "half" => "float16",
            "float32" or "float" => "float32",
            "float64" or "double" => "float64",
            _ => text.Trim(),
        };
    }
}

internal sealed partial class DefinitionReader
{
    internal static readonly string[] TopLevelKeys =
    {
        "merge_method", "models", "slices", "base_model", "parameters", "dtype", "out_dtype",
        "tokenizer_source", "tokenizer", "chat_template", "seed", "modules", "name",
    };

    private static readonly string[] ModelEntryKeys = { "model", "parameters", "name" };
    private static readonly string[] ModuleKeys = { "slices", "models", "parameters" };
    private static readonly string[] SliceKeys = { "sources", "base_model", "parameters", "residual_weight" };
    private static readonly string[] SourceKeys = { "model", "layer_range", "parameters" };
    private static readonly string[] ModelRefKeys = { "model", "lora", "override_architecture" };
    private static readonly string[] ModelPathKeys = { "path", "revision" };
    private static readonly string[] ConditionalKeys = { "value", "filter" };
    private const string SearchKey = "search";
    internal static readonly Regex MarkPrefix = new(@"^\s*\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\):\s*", RegexOptions.CultureInvariant);

    private readonly string _path;
    private readonly List<DefinitionDiagnostic> _diagnostics = new();
    private string _text = string.Empty;

    public DefinitionReader(string path) => _path = path;

    public ParseResult Read(string text, CancellationToken cancellationToken = default)
    {
        var stream = Load(text, cancellationToken);
        if (stream is null) return new ParseResult(null, _diagnostics);
        var documents = stream.Documents.Where(d => !(d.RootNode is YamlScalarNode e && YamlScalars.IsNull(e))).ToList();
        if (documents.Count > 1)
        {
            Report(DiagnosticDescriptors.ExtraDocuments, Loc(documents[1].RootNode),
                "read it as stages (DefinitionLoader.LoadStages, MultiStageRunner.LoadStages)", documents.Count);
            return new ParseResult(null, _diagnostics);
        }
        return ReadDocument(stream, documents.Count == 1 ? stream.Documents.IndexOf(documents[0]) : 0, text);
    }

    public IReadOnlyList<ParseResult> ReadAll(string text, CancellationToken cancellationToken = default)
    {
        var stream = Load(text, cancellationToken);
        if (stream is null || stream.Documents.Count <= 1) return new[] { stream is null ? new ParseResult(null, _diagnostics) : ReadDocument(stream, 0, text) };
        // What the guarded parser found while reading the whole stream (tags) goes with the first stage's findings.
        var streamDiagnostics = _diagnostics.ToList();
        var results = new List<ParseResult>();
        for (int i = 0; i < stream.Documents.Count; i++)
        {
            // An empty document (a trailing '---') is no stage.
            if (stream.Documents[i].RootNode is YamlScalarNode empty && YamlScalars.IsNull(empty)) continue;
            _diagnostics.Clear();
            if (results.Count == 0) _diagnostics.AddRange(streamDiagnostics);
            results.Add(ReadDocument(stream, i, DocumentText(text, stream, i)));
        }
        if (results.Count == 0) return new[] { ReadDocument(stream, 0, text) }; // only empty documents: "empty definition"
        return results;
    }

    internal YamlStream? LoadStream(string text, CancellationToken cancellationToken, out IReadOnlyList<DefinitionDiagnostic> diagnostics)
    {
        var stream = Load(text, cancellationToken);
        diagnostics = _diagnostics.ToList();
        return stream;
    }

    internal ModelReference? ReadReference(YamlNode node, string key, out IReadOnlyList<DefinitionDiagnostic> diagnostics)
    {
        var reference = ReadModelReference(node, key);
        diagnostics = _diagnostics.ToList();
        return diagnostics.Any(d => d.IsError) ? null : reference;
    }

    /// <summary>Reads the YAML stream within <see cref="DefinitionLimits"/> (size, depth, nodes, core tags), or reports why
    /// it cannot and returns null.</summary>
    private YamlStream? Load(string text, CancellationToken cancellationToken)
    {
        _text = text;
        if (text.Length > DefinitionLimits.MaxLength)
        {
            Report(DiagnosticDescriptors.DefinitionTooLarge, new SourceLocation(_path, 1, 1), "a merge definition is a few kilobytes",
                string.Format(CultureInfo.InvariantCulture, "the definition is {0:N0} characters long, over the limit of {1}", text.Length, DefinitionLimits.MaxLengthText));
            return null;
        }

        var stream = new YamlStream();
        var parser = new GuardedYamlParser(text, _path, cancellationToken);
        try
        {
            stream.Load(parser);
        }
        catch (Exception e) when (parser.Describe(e, text) is { } failure)
        {
            _diagnostics.Add(failure);
            return null;
        }
        catch (YamlException e)
        {
            var message = MarkPrefix.Replace(e.Message, string.Empty);
            var at = new SourceLocation(_path, (int)Math.Max(1, e.Start.Line), (int)Math.Max(1, e.Start.Column));
            if (message.IndexOf("Duplicate key", StringComparison.OrdinalIgnoreCase) >= 0)
                Report(DiagnosticDescriptors.DuplicateKey, at, null, DuplicateKeyName(text, e) ?? "?");
            else
                Report(DiagnosticDescriptors.YamlSyntax, at, null, message);
            return null;
        }
        _diagnostics.AddRange(parser.Diagnostics);
        return stream;
    }

    private ParseResult ReadDocument(YamlStream stream, int index, string text)
    {
        var diagnostics = _diagnostics;
        var start = index == 0 ? new SourceLocation(_path, 1, 1) : Loc(stream.Documents[index].RootNode);
        if (stream.Documents.Count == 0 || stream.Documents[index].RootNode is YamlScalarNode s && YamlScalars.IsNull(s))
        {
            Report(DiagnosticDescriptors.EmptyDocument, start, null);
            return new ParseResult(null, diagnostics.ToList());
        }

        if (stream.Documents[index].RootNode is not YamlMappingNode root)
        {
            Report(DiagnosticDescriptors.RootNotMapping, Loc(stream.Documents[index].RootNode), null);
            return new ParseResult(null, diagnostics.ToList());
        }

        var definition = ReadRoot(root, text);
        return new ParseResult(definition, diagnostics.ToList());
    }

    /// <summary>The text of one document of a multi-document file: from its first line to the line before the next
    /// document's (the YAML node positions are 1-based lines).</summary>
    private static string DocumentText(string text, YamlStream stream, int index)
    {
        var lines = text.Replace("\r\n", "\n").Split('\n');
        int first = (int)stream.Documents[index].RootNode.Start.Line - 1;
        int end = index + 1 < stream.Documents.Count ? (int)stream.Documents[index + 1].RootNode.Start.Line - 1 : lines.Length;
        var body = lines.Skip(first).Take(Math.Max(0, end - first)).ToList();
        // Drop the next document's '---' marker and trailing blank lines.
        while (body.Count > 0 && body[body.Count - 1].Trim() is "" or "---" or "...") body.RemoveAt(body.Count - 1);
        return string.Join("\n", body) + "\n";
    }

    private MergeDefinition ReadRoot(YamlMappingNode root, string text)
    {
        string method = string.Empty;
        SourceLocation methodLoc = Loc(root), modelsLoc = default, slicesLoc = default, dtypeLoc = default, outDtypeLoc = default,
            tokenizerSourceLoc = default, chatTemplateLoc = default, seedLoc = default;
        IReadOnlyList<InputModel>? models = null;
        IReadOnlyList<OutputSlice>? slices = null;
        ModelReference? baseModel = null;
        var parameters = ParameterMap.Empty;
        string? dtype = null, outDtype = null, tokenizerSource = null, chatTemplate = null;
        ulong? seed = null;
        string? name = null;
        SourceLocation nameLoc = default;
        IReadOnlyList<ModuleDefinition>? modules = null;
        SourceLocation modulesLoc = default;
        YamlNode? tokenizerKey = null;
        TokenizerSettings? tokenizer = null;

        foreach (var (key, keyNode, value) in Entries(root))
        {
            switch (key)
            {
                case "merge_method":
                    method = ReadString(value, key) ?? string.Empty;
                    methodLoc = Loc(value);
                    break;
                case "models":
                    (modelsLoc, models) = (Loc(keyNode), ReadModels(value));
                    break;
                case "slices":
                    (slicesLoc, slices) = (Loc(keyNode), ReadSlices(value));
                    break;
                case "modules":
                    modulesLoc = Loc(keyNode);
                    modules = ReadModules(value);
                    break;
                case "base_model":
                    baseModel = ReadModelReference(value, key);
                    break;
                case "parameters":
                    parameters = ReadParameters(value, keyNode);
                    break;
                case "dtype":
                    dtype = ReadDtype(value, key);
                    dtypeLoc = Loc(value);
                    break;
                case "out_dtype":
                    outDtype = ReadDtype(value, key);
                    outDtypeLoc = Loc(value);
                    break;
                case "tokenizer_source":
                    tokenizerSourceLoc = Loc(value);
                    tokenizerSource = value is YamlMappingNode ? ReadModelReference(value, key)?.ToString() : ReadString(value, key);
                    break;
                case "tokenizer":
                    tokenizerKey = keyNode;
                    tokenizer = ReadTokenizer(keyNode, value);
                    break;
                case "chat_template":
                    chatTemplate = ReadString(value, key);
                    chatTemplateLoc = Loc(value);
                    break;
                case "seed":
                    seedLoc = Loc(value);
                    seed = ReadSeed(value);
                    break;
                case "name":
                    nameLoc = Loc(value);
                    name = ReadString(value, key);
                    break;
                default:
                    ReportUnknownKey(keyNode, key, "the definition", TopLevelKeys);
                    break;
            }
        }

        if (tokenizerKey is not null && tokenizerSource is not null)
            Report(DiagnosticDescriptors.TokenizerConflict, Loc(tokenizerKey), null);

        return new MergeDefinition
        {
            SourcePath = _path,
            SourceText = text,
            Name = name,
            NameLocation = nameLoc,
            Location = Loc(root),
            MergeMethod = method,
            MergeMethodLocation = methodLoc,
            Models = models,
            ModelsLocation = modelsLoc,
            Slices = slices,
            SlicesLocation = slicesLoc,
            BaseModel = baseModel,
            Parameters = parameters,
            Dtype = dtype,
            DtypeLocation = dtypeLoc,
            OutDtype = outDtype,
            OutDtypeLocation = outDtypeLoc,
            TokenizerSource = tokenizerSource,
            TokenizerSourceLocation = tokenizerSourceLoc,
            Tokenizer = tokenizer,
            ChatTemplate = chatTemplate,
            ChatTemplateLocation = chatTemplateLoc,
            Seed = seed,
            SeedLocation = seedLoc,
            Modules = modules,
            ModulesLocation = modulesLoc,
        };
    }

    /// <summary><c>modules:</c>, a mapping of module names to <c>{slices | models, parameters}</c>, in the order written.</summary>
    private IReadOnlyList<ModuleDefinition>? ReadModules(YamlNode node)
    {
        if (node is YamlScalarNode s && YamlScalars.IsNull(s))
            return null;
        if (node is not YamlMappingNode map)
        {
            Report(DiagnosticDescriptors.WrongType, Loc(node), "for example 'modules: {text_decoder: {models: [...]}, vision_tower: {models: [...]}}'",
                "modules", "a mapping of module names to module definitions");
            return null;
        }

        var modules = new List<ModuleDefinition>();
        foreach (var (name, nameNode, value) in Entries(map))
        {
            if (ReadModule(name, nameNode, value) is { } module)
                modules.Add(module);
        }

        return modules;
    }

    private ModuleDefinition? ReadModule(string name, YamlNode nameNode, YamlNode node)
    {
        if (node is not YamlMappingNode map)
        {
            Report(DiagnosticDescriptors.WrongType, Loc(node), "write '" + name + ": {models: [...]}' or '" + name + ": {slices: [...]}'",
                "modules." + name, "a mapping with 'models' or 'slices' (and optionally 'parameters')");
            return null;
        }

        IReadOnlyList<InputModel>? models = null;
        IReadOnlyList<OutputSlice>? slices = null;
        SourceLocation modelsLoc = default, slicesLoc = default;
        var parameters = ParameterMap.Empty;
        foreach (var (key, keyNode, value) in Entries(map))
        {
            switch (key)
            {
                case "models":
                    (modelsLoc, models) = (Loc(keyNode), ReadModels(value));
                    break;
                case "slices":
                    (slicesLoc, slices) = (Loc(keyNode), ReadSlices(value));
                    break;
                case "parameters":
                    parameters = ReadParameters(value, keyNode);
                    break;
                default:
                    ReportUnknownKey(keyNode, key, "module '" + name + "'", ModuleKeys, ParameterHint(key));
                    break;
            }
        }

        return new ModuleDefinition(name, parameters)
        {
            Location = Loc(nameNode),
            Models = models,
            ModelsLocation = modelsLoc,
            Slices = slices?.Select(slice => new OutputSlice(slice.Sources, slice.BaseModel, slice.Parameters)
            {
                Location = slice.Location,
                Module = name,
                ModuleParameters = parameters,
            }).ToList(),
            SlicesLocation = slicesLoc,
        };
    }

    private IReadOnlyList<InputModel>? ReadModels(YamlNode node) => ReadList(node, "models", "a list of model entries", ReadModelEntry);

    private IReadOnlyList<OutputSlice>? ReadSlices(YamlNode node) => ReadList(node, "slices", "a list of slices", ReadSlice);

    private InputModel? ReadModelEntry(YamlNode node)
    {
        if (node is not YamlMappingNode map)
        {
            Report(DiagnosticDescriptors.WrongType, Loc(node), "write '- model: " + ScalarText(node) + "'", "models[]",
                "a mapping with a 'model' key");
            return null;
        }

        ModelReference? model = null;
        var parameters = ParameterMap.Empty;
        string? name = null;
        foreach (var (key, keyNode, value) in Entries(map))
        {
            switch (key)
            {
                case "model":
                    model = ReadModelReference(value, key);
                    break;
                case "parameters":
                    parameters = ReadParameters(value, keyNode);
                    break;
                case "name":
                    name = ReadString(value, key);
                    break;
                default:
                    ReportUnknownKey(keyNode, key, "a model entry", ModelEntryKeys, ParameterHint(key));
                    break;
            }
        }

        if (model is null)
        {
            if (!HasKey(map, "model"))
                Report(DiagnosticDescriptors.MissingKey, Loc(map), null, "a model entry", "model");
            return null;
        }

        return new InputModel(model, parameters) { Location = Loc(map), Name = name };
    }

    private OutputSlice? ReadSlice(YamlNode node)
    {
        if (node is not YamlMappingNode map)
        {
            Report(DiagnosticDescriptors.WrongType, Loc(node), null, "slices[]", "a mapping with a 'sources' key");
            return null;
        }

        IReadOnlyList<SliceSource>? sources = null;
        ModelReference? baseModel = null;
        var parameters = ParameterMap.Empty;
        foreach (var (key, keyNode, value) in Entries(map))
        {
            switch (key)
            {
                case "sources":
                    sources = ReadList(value, key, "a list of sources", ReadSource);
                    break;
                case "base_model":
                    baseModel = ReadModelReference(value, key);
                    break;
                case "parameters":
                    parameters = ReadParameters(value, keyNode);
                    break;
                case "residual_weight":
                    Report(DiagnosticDescriptors.IgnoredKey, Loc(keyNode), null, key, "mergekit reads it but never uses it, and so does dotnet-merge");
                    break;
                default:
                    ReportUnknownKey(keyNode, key, "a slice", SliceKeys, ParameterHint(key));
                    break;
            }
        }

        if (sources is null && !HasKey(map, "sources"))
            Report(DiagnosticDescriptors.MissingKey, Loc(map), null, "a slice", "sources");
        return new OutputSlice(sources ?? Array.Empty<SliceSource>(), baseModel, parameters) { Location = Loc(map) };
    }

    private SliceSource? ReadSource(YamlNode node)
    {
        if (node is not YamlMappingNode map)
        {
            Report(DiagnosticDescriptors.WrongType, Loc(node), null, "sources[]", "a mapping with 'model' and 'layer_range' keys");
            return null;
        }

        ModelReference? model = null;
        var parameters = ParameterMap.Empty;
        int start = 0, end = 0;
        var malformed = true;
        SourceLocation rangeLoc = Loc(map);
        foreach (var (key, keyNode, value) in Entries(map))
        {
            switch (key)
            {
                case "model":
                    model = ReadModelReference(value, key);
                    break;
                case "layer_range":
                    rangeLoc = Loc(value);
                    malformed = !ReadLayerRange(value, out start, out end);
                    break;
                case "parameters":
                    parameters = ReadParameters(value, keyNode);
                    break;
                default:
                    ReportUnknownKey(keyNode, key, "a slice source", SourceKeys, ParameterHint(key));
                    break;
            }
        }

        if (!HasKey(map, "layer_range"))
            Report(DiagnosticDescriptors.MissingKey, Loc(map), null, "a slice source", "layer_range");
        if (model is null)
        {
            if (!HasKey(map, "model"))
                Report(DiagnosticDescriptors.MissingKey, Loc(map), null, "a slice source", "model");
            return null;
        }

        return new SliceSource(model, start, end, parameters)
        {
            Location = Loc(map),
            LayerRangeLocation = rangeLoc,
            LayerRangeMalformed = malformed,
        };
    }

    private bool ReadLayerRange(YamlNode node, out int start, out int end)
    {
        start = end = 0;
        if (node is YamlSequenceNode { Children.Count: 2 } seq
            && seq.Children[0] is YamlScalarNode a && YamlScalars.TryInteger(a, out var s)
            && seq.Children[1] is YamlScalarNode b && YamlScalars.TryInteger(b, out var e)
            && s >= int.MinValue && s <= int.MaxValue && e >= int.MinValue && e <= int.MaxValue)
        {
            start = (int)s;
            end = (int)e;
            return true;
        }

        Report(DiagnosticDescriptors.InvalidLayerRange, Loc(node), null, "must be a list of two integers [start, end)");
        return false;
    }

    private ModelReference? ReadModelReference(YamlNode node, string key)
    {
        switch (node)
        {
            case YamlScalarNode scalar when !YamlScalars.IsNull(scalar):
                return ParseModelText(scalar.Value ?? string.Empty, Loc(scalar));
            case YamlMappingNode map:
                return ReadModelReferenceMapping(map);
            default:
                Report(DiagnosticDescriptors.WrongType, Loc(node), null, key, "a model reference (a path or repo id such as 'org/model', or a mapping with 'model')");
                return null;
        }
    }

    private ModelReference ParseModelText(string text, SourceLocation location)
    {
        if (ModelReference.TryParse(text, out var reference, out var error))
            return new ModelReference(reference!.Path, reference.Revision, reference.LoraPath, reference.LoraRevision) { Location = location };
        Report(DiagnosticDescriptors.InvalidModelReference, location, null, text, error);
        return new ModelReference(text.Trim()) { Location = location };
    }

    private ModelReference? ReadModelReferenceMapping(YamlMappingNode map)
    {
        (string Path, string? Revision)? model = null, lora = null;
        string? overrideArchitecture = null;
        foreach (var (key, keyNode, value) in Entries(map))
        {
            switch (key)
            {
                case "model":
                    model = ReadModelPath(value, key);
                    break;
                case "lora":
                    lora = ReadModelPath(value, key);
                    break;
                case "override_architecture":
                    overrideArchitecture = ReadString(value, key);
                    Report(DiagnosticDescriptors.IgnoredKey, Loc(keyNode), null, key,
                        "dotnet-merge does not support it yet; the architecture in the model's config.json is used");
                    break;
                default:
                    ReportUnknownKey(keyNode, key, "a model reference", ModelRefKeys);
                    break;
            }
        }

        if (model is null)
        {
            if (!HasKey(map, "model"))
                Report(DiagnosticDescriptors.MissingKey, Loc(map), null, "a model reference", "model");
            return null;
        }

        return new ModelReference(model.Value.Path, model.Value.Revision, lora?.Path, lora?.Revision)
        {
            Location = Loc(map),
            OverrideArchitecture = overrideArchitecture,
        };
    }

    private (string Path, string? Revision)? ReadModelPath(YamlNode node, string key)
    {
        if (node is YamlScalarNode scalar && !YamlScalars.IsNull(scalar))
        {
            var parsed = ParseModelText(scalar.Value ?? string.Empty, Loc(scalar));
            return (parsed.Path, parsed.Revision);
        }

        if (node is not YamlMappingNode map)
        {
            Report(DiagnosticDescriptors.WrongType, Loc(node), null, key, "a path string or a mapping with 'path' and 'revision'");
            return null;
        }

        string? path = null, revision = null;
        foreach (var (k, keyNode, value) in Entries(map))
        {
            if (k == "path")
                path = ReadString(value, k);
            else if (k == "revision")
                revision = ReadString(value, k);
            else
                ReportUnknownKey(keyNode, k, "a model path", ModelPathKeys);
        }

        if (string.IsNullOrWhiteSpace(path))
        {
            Report(DiagnosticDescriptors.MissingKey, Loc(map), null, "a model path", "path");
            return null;
        }

        return (path!.Trim(), revision);
    }

    private ParameterMap ReadParameters(YamlNode node, YamlNode keyNode)
    {
        if (node is YamlScalarNode s && YamlScalars.IsNull(s))
            return ParameterMap.Empty;
        if (node is not YamlMappingNode map)
        {
            Report(DiagnosticDescriptors.WrongType, Loc(node), null, "parameters", "a mapping of parameter names to values");
            return ParameterMap.Empty;
        }

        var result = new ParameterMap { Location = Loc(keyNode) };
        foreach (var (name, nameNode, value) in Entries(map))
        {
            var setting = ReadSetting(value, name, allowConditional: true);
            if (setting is not null)
                result.Add(name, setting, Loc(nameNode));
        }

        return result;
    }

    private ParameterSetting? ReadSetting(YamlNode node, string name, bool allowConditional)
    {
        switch (node)
        {
            case YamlScalarNode scalar:
                return new ScalarSetting(YamlScalars.Resolve(scalar)) { Location = Loc(scalar) };
            case YamlSequenceNode seq when seq.Children.Count == 0:
                Report(DiagnosticDescriptors.InvalidParameterForm, Loc(seq), null, name, "is an empty list");
                return null;
            case YamlSequenceNode seq when seq.Children.All(c => c is YamlScalarNode):
            {
                var values = seq.Children.Cast<YamlScalarNode>().Select(YamlScalars.Resolve).ToList();
                var locations = seq.Children.Select(Loc).ToList();
                if (values.All(v => v is double))
                    return new GradientSetting(values.Select(v => (double)v!).ToList(), locations) { Location = Loc(seq) };
                return new StepSetting(values, locations) { Location = Loc(seq) };
            }

            case YamlSequenceNode seq when allowConditional && seq.Children.All(c => c is YamlMappingNode):
            {
                var entries = seq.Children.Cast<YamlMappingNode>().Select(m => ReadConditional(m, name)).ToList();
                if (entries.Any(e => e is null))
                    return null;
                return new ConditionalSetting(entries!) { Location = Loc(seq) };
            }

            case YamlSequenceNode seq:
                Report(DiagnosticDescriptors.InvalidParameterForm, Loc(seq), null, name, allowConditional
                    ? "mixes forms; use a list of numbers (a gradient), a list of plain values, or a list of {filter, value} entries"
                    : "inside a filtered entry must be a plain value or a list of numbers (a gradient)");
                return null;
            case YamlMappingNode map when HasKey(map, SearchKey):
                return ReadSearch(map, name);
            case YamlMappingNode map when allowConditional:
            {
                var entry = ReadConditional(map, name);
                return entry is null ? null : new ConditionalSetting(new[] { entry }) { Location = Loc(map) };
            }

            default:
                Report(DiagnosticDescriptors.InvalidParameterForm, Loc(node), null, name,
                    "inside a filtered entry must be a plain value, a list of numbers (a gradient) or a search form");
                return null;
        }
    }

    /// <summary>A search form, <c>{search: [min, max]}</c> (a range) or <c>{search: {values: [a, b, ...]}}</c> (a set): the
    /// value that <c>dotnet merge tune</c> looks for. Its place in the text is kept, for tune to write a value there.</summary>
    private ParameterSetting? ReadSearch(YamlMappingNode map, string name)
    {
        const string Forms = "write {search: [min, max]} for a range or {search: {values: [a, b, c]}} for a set of values";
        SearchSetting? setting = null;
        foreach (var (key, keyNode, value) in Entries(map))
        {
            if (key != SearchKey)
            {
                Report(DiagnosticDescriptors.InvalidSearchForm, Loc(keyNode), Forms, name, "a search form has the one key 'search', not '" + key + "'");
                return null;
            }

            switch (value)
            {
                case YamlSequenceNode seq when seq.Children.Count == 2 && seq.Children.All(c => c is YamlScalarNode sc && YamlScalars.Resolve(sc) is double):
                    setting = SearchSetting.Range((double)YamlScalars.Resolve((YamlScalarNode)seq.Children[0])!, (double)YamlScalars.Resolve((YamlScalarNode)seq.Children[1])!,
                        seq.Children.Select(Loc).ToList());
                    break;
                case YamlSequenceNode seq:
                    Report(DiagnosticDescriptors.InvalidSearchForm, Loc(seq), Forms, name,
                        "a search range is a list of two numbers [min, max]" + (seq.Children.Count > 2 ? " (this one has " + seq.Children.Count + " entries)" : string.Empty));
                    return null;
                case YamlMappingNode set:
                    setting = ReadSearchSet(set, name, Forms);
                    if (setting is null) return null;
                    break;
                default:
                    Report(DiagnosticDescriptors.InvalidSearchForm, Loc(value), Forms, name, "'search' must be a range [min, max] or {values: [...]}");
                    return null;
            }
        }

        if (setting is null) return null;
        var start = (int)map.Start.Index;
        return setting.At(Loc(map), start, (int)SpanEnd(map) - start);
    }

    private SearchSetting? ReadSearchSet(YamlMappingNode set, string name, string forms)
    {
        YamlSequenceNode? values = null;
        foreach (var (key, keyNode, value) in Entries(set))
        {
            if (key != "values")
            {
                Report(DiagnosticDescriptors.InvalidSearchForm, Loc(keyNode), forms, name, "a set of searched values has the one key 'values', not '" + key + "'");
                return null;
            }

            values = value as YamlSequenceNode;
            if (values is null || values.Children.Count == 0 || values.Children.Any(c => c is not YamlScalarNode sc || YamlScalars.Resolve(sc) is null))
            {
                Report(DiagnosticDescriptors.InvalidSearchForm, Loc(value), forms, name, "'values' must be a non-empty list of plain values (numbers, true/false or names)");
                return null;
            }
        }

        if (values is null)
        {
            Report(DiagnosticDescriptors.MissingKey, Loc(set), forms, "a set of searched values of '" + name + "'", "values");
            return null;
        }

        var resolved = values.Children.Cast<YamlScalarNode>().Select(YamlScalars.Resolve).ToList();
        return SearchSetting.Choice(resolved, null, values.Children.Select(Loc).ToList());
    }

    /// <summary>Where the text of a node ends (a character offset): a scalar at its own end, a block collection at the end of
    /// its last entry, a flow collection at its closing bracket (found by scanning the text: YamlDotNet's end marks of
    /// collections do not say).</summary>
    private long SpanEnd(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode { Style: YamlDotNet.Core.Events.MappingStyle.Flow }:
            case YamlSequenceNode { Style: YamlDotNet.Core.Events.SequenceStyle.Flow }:
                return ClosingBracket((int)node.Start.Index);
            case YamlMappingNode { Children.Count: > 0 } m:
                return SpanEnd(m.Children.Last().Value);
            case YamlSequenceNode { Children.Count: > 0 } q:
                return SpanEnd(q.Children.Last());
            default:
                return node.End.Index;
        }
    }

    /// <summary>The offset just past the bracket that closes the one at <paramref name="start"/> (quotes skipped).</summary>
    private int ClosingBracket(int start)
    {
        int depth = 0;
        for (int i = start; i < _text.Length; i++)
        {
            char c = _text[i];
            if (c == '\'' || c == '"')
            {
                for (i++; i < _text.Length && _text[i] != c; i++)
                    if (c == '"' && _text[i] == '\\') i++;
                continue;
            }
            if (c is '[' or '{') depth++;
            else if (c is ']' or '}' && --depth == 0) return i + 1;
        }
        return _text.Length;
    }

    private ConditionalEntry? ReadConditional(YamlMappingNode map, string name)
    {
        ParameterSetting? value = null;
        string? filter = null;
        var hasValue = false;
        foreach (var (key, keyNode, v) in Entries(map))
        {
            switch (key)
            {
                case "value":
                    hasValue = true;
                    value = ReadSetting(v, name, allowConditional: false);
                    break;
                case "filter":
                    filter = ReadString(v, key);
                    break;
                default:
                    ReportUnknownKey(keyNode, key, "a filtered value of '" + name + "'", ConditionalKeys);
                    break;
            }
        }

        if (!hasValue)
            Report(DiagnosticDescriptors.MissingKey, Loc(map), null, "a filtered value of '" + name + "'", "value");
        return value is null ? null : new ConditionalEntry(value, filter) { Location = Loc(map) };
    }

    private string? ReadDtype(YamlNode node, string key)
    {
        var text = ReadString(node, key);
        return text is null ? null : DefinitionParser.NormalizeDtype(text);
    }

    private ulong? ReadSeed(YamlNode node)
    {
        if (node is YamlScalarNode s && YamlScalars.IsPlain(s)
            && ulong.TryParse((s.Value ?? string.Empty).Replace("_", string.Empty), NumberStyles.None, CultureInfo.InvariantCulture, out var seed))
            return seed;
        Report(DiagnosticDescriptors.WrongType, Loc(node), null, "seed", "a non-negative integer below 2^64");
        return null;
    }

    private IReadOnlyList<T>? ReadList<T>(YamlNode node, string key, string expected, Func<YamlNode, T?> readItem)
        where T : class
    {
        if (node is YamlScalarNode s && YamlScalars.IsNull(s))
            return null;
        if (node is not YamlSequenceNode seq)
        {
            Report(DiagnosticDescriptors.WrongType, Loc(node), null, key, expected);
            return null;
        }

        return seq.Children.Select(readItem).Where(x => x is not null).Select(x => x!).ToList();
    }

    private string? ReadString(YamlNode node, string key)
    {
        if (node is YamlScalarNode s)
            return YamlScalars.IsNull(s) ? null : s.Value;
        Report(DiagnosticDescriptors.WrongType, Loc(node), null, key, "a single value (a string)");
        return null;
    }

    private IEnumerable<(string Key, YamlNode KeyNode, YamlNode Value)> Entries(YamlMappingNode map)
    {
        foreach (var pair in map.Children)
        {
            if (pair.Key is YamlScalarNode k && k.Value is not null)
                yield return (k.Value, k, pair.Value);
            else
                Report(DiagnosticDescriptors.WrongType, Loc(pair.Key), null, "a key", "a plain name");
        }
    }

    private void ReportUnknownKey(YamlNode keyNode, string key, string context, IEnumerable<string> known, string? extraHint = null)
    {
        var suggestions = NameSuggester.Suggest(key, known);
        Report(UnknownNames.KeyDescriptor(suggestions), Loc(keyNode), NameSuggester.Hint(suggestions) ?? extraHint, key, context);
    }

    /// <summary>A hint for a parameter name written outside 'parameters:' (a frequent indentation slip).</summary>
    private static string? ParameterHint(string key)
        => MethodCatalog.All.Any(m => m.FindParameter(key) is not null)
            ? "'" + key + "' is a parameter; put it under 'parameters:'"
            : null;

    private static bool HasKey(YamlMappingNode map, string key)
        => map.Children.Keys.OfType<YamlScalarNode>().Any(k => k.Value == key);

    private static string ScalarText(YamlNode node) => node is YamlScalarNode s ? s.Value ?? string.Empty : "...";

    private static string? DuplicateKeyName(string text, YamlException e)
    {
        var lines = text.Split('\n');
        var line = (int)e.Start.Line - 1;
        if (line < 0 || line >= lines.Length)
            return null;
        var rest = lines[line].Substring(Math.Min(lines[line].Length, Math.Max(0, (int)e.Start.Column - 1)));
        var colon = rest.IndexOf(':');
        return colon > 0 ? rest.Substring(0, colon).Trim().TrimStart('-', ' ', '{') : null;
    }

    private SourceLocation Loc(YamlNode node) => new(_path, (int)node.Start.Line, (int)node.Start.Column);

    private void Report(DiagnosticDescriptor descriptor, SourceLocation location, string? hint, params object?[] args)
        => _diagnostics.Add(descriptor.Create(location, hint, args));
}
