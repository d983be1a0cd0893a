using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace DotnetMerge.Definitions;

/// <summary>The YAML event stream that <see cref="DefinitionReader"/> loads, with the bounds of
/// <see cref="DefinitionLimits"/> enforced as events arrive, before YamlDotNet's recursive loader descends into them:
/// nesting depth, node count (aliases counted as the copies they stand for), and cancellation checked every
/// <see cref="CancelCheckInterval"/> events. Tags other than YAML's core ones are reported (not fatal).
/// <see cref="Describe"/> turns what the scanner throws into a located diagnostic.</summary>
internal sealed class GuardedYamlParser : IParser
{
    internal const int CancelCheckInterval = 256;

    private static readonly HashSet<string> CoreTags = new(StringComparer.Ordinal)
    {
        "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:null", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq",
    };

    private readonly Scanner _scanner;
    private readonly Parser _parser;
    private readonly string _path;
    private readonly CancellationToken _cancellationToken;
    private readonly List<Open> _open = new();
    private readonly Dictionary<string, long> _anchorSizes = new(StringComparer.Ordinal);
    private readonly List<DefinitionDiagnostic> _diagnostics = new();
    private long _nodes;
    private long _events;

    public GuardedYamlParser(string text, string path, CancellationToken cancellationToken)
    {
        _scanner = new Scanner(new StringReader(text), skipComments: true);
        _parser = new Parser(_scanner);
        _path = path;
        _cancellationToken = cancellationToken;
    }

    /// <summary>Problems that do not stop reading (unsupported tags).</summary>
    public IReadOnlyList<DefinitionDiagnostic> Diagnostics => _diagnostics;

    public ParsingEvent? Current => _parser.Current;

    public bool MoveNext()
    {
        if (++_events % CancelCheckInterval == 0)
            _cancellationToken.ThrowIfCancellationRequested();
        bool more;
        try
        {
            more = _parser.MoveNext();
        }
        catch (Exception e) when (e is not (YamlException or OperationCanceledException))
        {
            // YamlDotNet's scanner and parser fail in other ways on some malformed input (found by fuzzing):
            // InvalidOperationException on an unclosed flow collection ("Operation is not valid due to the current state
            // of the object"), ArgumentNullException on an empty %TAG prefix. Each is a syntax error where reading stopped.
            throw new DefinitionReadException(e is InvalidOperationException && InnermostFlow() is { } flow
                ? Unclosed(flow)
                : DiagnosticDescriptors.YamlSyntax.Create(Loc(_scanner.CurrentPosition), null, "the YAML cannot be read from here on (" + e.Message + ")"));
        }

        if (!more)
            return false;
        switch (_parser.Current)
        {
            case AnchorAlias alias:
                Count(alias, _anchorSizes.TryGetValue(alias.Value.Value, out var size) ? size : 1);
                break;
            case Scalar scalar:
                CheckTag(scalar);
                Count(scalar, 1);
                if (!scalar.Anchor.IsEmpty)
                    _anchorSizes[scalar.Anchor.Value] = 1;
                break;
            case MappingStart mapping:
                Enter(mapping, mapping.Style == MappingStyle.Flow, '{');
                break;
            case SequenceStart sequence:
                Enter(sequence, sequence.Style == SequenceStyle.Flow, '[');
                break;
            case MappingEnd or SequenceEnd when _open.Count > 0:
                var open = _open[_open.Count - 1];
                _open.RemoveAt(_open.Count - 1);
                if (open.Anchor is { } anchor)
                    _anchorSizes[anchor] = _nodes - open.NodesBefore;
                break;
        }

        return true;
    }

    /// <summary>The diagnostic for a failure of loading through this parser, or null for one it does not know
    /// (duplicate keys, which the caller reports itself).</summary>
    public DefinitionDiagnostic? Describe(Exception exception, string text)
    {
        switch (exception)
        {
            case DefinitionReadException stop:
                return stop.Diagnostic;
            case ArgumentException { ParamName: "parser" }:
                // The loader met an event it cannot place (YamlDotNet's parser lets some tab and tag mixtures through as a
                // malformed event stream; found by fuzzing): a syntax error where that event starts.
                return DiagnosticDescriptors.YamlSyntax.Create(Loc(_parser.Current?.Start ?? _scanner.CurrentPosition),
                    text.IndexOf('\t') >= 0 ? "indent with spaces: YAML does not allow tabs in indentation" : null,
                    "the YAML structure cannot be read from here on");
            case YamlException e when IsSyntax(e) && e.Message.IndexOf("tab", StringComparison.OrdinalIgnoreCase) >= 0:
                return DiagnosticDescriptors.YamlSyntax.Create(TabLocation(text, e), "indent with spaces: YAML does not allow tabs in indentation",
                    StripMark(e.Message));
            case YamlException e when IsSyntax(e) && InnermostFlow() is { } open:
                return DiagnosticDescriptors.YamlSyntax.Create(Loc(e.Start),
                    $"the '{open.Opener}' at ({open.Start.Line},{open.Start.Column}) is not closed", StripMark(e.Message));
            default:
                return null;
        }
    }

    private void Enter(NodeEvent node, bool flow, char opener)
    {
        CheckTag(node);
        Count(node, 1);
        if (_open.Count >= DefinitionLimits.MaxDepth)
            throw new DefinitionReadException(DiagnosticDescriptors.DefinitionTooDeep.Create(Loc(node.Start),
                "a merge definition nests about 10 deep; look for a generated or corrupted file", DefinitionLimits.MaxDepth));
        _open.Add(new Open(node.Start, flow, opener, node.Anchor.IsEmpty ? null : node.Anchor.Value, _nodes - 1));
    }

    private void Count(ParsingEvent node, long size)
    {
        _nodes += size;
        if (_nodes > DefinitionLimits.MaxNodes)
            throw new DefinitionReadException(DiagnosticDescriptors.DefinitionTooManyNodes.Create(Loc(node.Start),
                "a merge definition has a few hundred values; look for a generated file, or aliases (*name) that repeat large parts",
                DefinitionLimits.MaxNodes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)));
    }

    private void CheckTag(NodeEvent node)
    {
        if (node.Tag.IsEmpty || node.Tag.IsNonSpecific || CoreTags.Contains(node.Tag.Value))
            return;
        var tag = node.Tag.Value;
        const string Core = "tag:yaml.org,2002:";
        var shown = tag.StartsWith(Core, StringComparison.Ordinal) ? "!!" + tag.Substring(Core.Length) : tag;
        _diagnostics.Add(DiagnosticDescriptors.UnsupportedTag.Create(Loc(node.Start), "remove the tag; write the plain value", shown));
    }

    private Open? InnermostFlow()
    {
        for (var i = _open.Count - 1; i >= 0; i--)
        {
            if (_open[i].Flow)
                return _open[i];
        }

        return null;
    }

    private DefinitionDiagnostic Unclosed(Open flow)
        => DiagnosticDescriptors.YamlSyntax.Create(Loc(flow.Start), "add the closing '" + (flow.Opener == '{' ? '}' : ']') + "'",
            "the flow " + (flow.Opener == '{' ? "mapping" : "sequence") + " '" + flow.Opener + "' that starts here is not closed");

    /// <summary>YamlDotNet places a tab error at the start of the enclosing mapping (often 1,1); the tab itself is on
    /// the line the scanner stopped at or just above it.</summary>
    private static bool IsSyntax(YamlException e) => e is SyntaxErrorException or SemanticErrorException;

    private SourceLocation TabLocation(string text, YamlException e)
    {
        var lines = text.Split('\n');
        var stop = (int)Math.Min(lines.Length, Math.Max(1, _scanner.CurrentPosition.Line));
        var first = (int)Math.Max(1, e.Start.Line);
        for (var line = stop; line >= first; line--)
        {
            var column = lines[line - 1].IndexOf('\t');
            if (column >= 0)
                return new SourceLocation(_path, line, column + 1);
        }

        return Loc(_scanner.CurrentPosition);
    }

    private static string StripMark(string message) => DefinitionReader.MarkPrefix.Replace(message, string.Empty);

    private SourceLocation Loc(Mark mark) => new(_path, (int)Math.Max(1, mark.Line), (int)Math.Max(1, mark.Column));

    private sealed record Open(Mark Start, bool Flow, char Opener, string? Anchor, long NodesBefore);
}

/// <summary>Reading stops with <see cref="Diagnostic"/>: a bound of <see cref="DefinitionLimits"/> was exceeded, or the
/// YAML library failed on malformed input in a way other than its own <see cref="YamlException"/>.</summary>
internal sealed class DefinitionReadException : Exception
{
    public DefinitionReadException(DefinitionDiagnostic diagnostic)
        : base(diagnostic.Message)
        => Diagnostic = diagnostic;

    public DefinitionDiagnostic Diagnostic { get; }
}
