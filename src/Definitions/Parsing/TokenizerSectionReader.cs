using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace DotnetMerge.Definitions;

/// <summary>The <c>tokenizer:</c> section (mergekit's TokenizerConfig): <c>source</c>, <c>tokens</c> and
/// <c>pad_to_multiple_of</c>.</summary>
internal sealed partial class DefinitionReader
{
    private static readonly string[] TokenizerKeys = { "source", "tokens", "pad_to_multiple_of" };
    private static readonly string[] TokenRuleKeys = { "source", "force" };
    private static readonly string[] TokenSourceKeys = { "kind", "model", "token", "token_id" };
    private static readonly string[] TokenSourceKinds = { "model_token", "zero" };

    private TokenizerSettings? ReadTokenizer(YamlNode keyNode, YamlNode node)
    {
        if (node is not YamlMappingNode map)
        {
            Report(DiagnosticDescriptors.WrongType, Loc(node), "write 'tokenizer: {source: union}'", "tokenizer",
                "a mapping with 'source', 'tokens' and 'pad_to_multiple_of'");
            return null;
        }
        string source = "union";
        SourceLocation sourceLoc = Loc(keyNode), padLoc = default;
        long? pad = null;
        var tokens = new List<TokenEmbeddingRule>();
        foreach (var (key, k, value) in Entries(map))
        {
            switch (key)
            {
                case "source":
                    sourceLoc = Loc(value);
                    source = (value is YamlMappingNode ? ReadModelReference(value, "tokenizer.source")?.ToString() : ReadString(value, "tokenizer.source")) ?? "union";
                    break;
                case "pad_to_multiple_of":
                    padLoc = Loc(value);
                    pad = ReadPositiveInteger(value, "tokenizer.pad_to_multiple_of");
                    break;
                case "tokens":
                    if (value is YamlScalarNode empty && YamlScalars.IsNull(empty)) break;
                    if (value is not YamlMappingNode tokenMap)
                    {
                        Report(DiagnosticDescriptors.WrongType, Loc(value), null, "tokenizer.tokens", "a mapping of token text to {source, force}");
                        break;
                    }
                    foreach (var pair in tokenMap.Children)
                    {
                        if (pair.Key is not YamlScalarNode tokenKey || tokenKey.Value is null)
                        {
                            Report(DiagnosticDescriptors.WrongType, Loc(pair.Key), null, "a token", "the token's text");
                            continue;
                        }
                        if (ReadTokenRule(tokenKey, pair.Value) is { } rule) tokens.Add(rule);
                    }
                    break;
                default:
                    ReportUnknownKey(k, key, "the tokenizer section", TokenizerKeys);
                    break;
            }
        }
        return new TokenizerSettings
        {
            Source = source, SourceLocation = sourceLoc, Location = Loc(keyNode), Tokens = tokens,
            PadToMultipleOf = pad, PadToMultipleOfLocation = padLoc, IsSection = true,
        };
    }

    private TokenEmbeddingRule? ReadTokenRule(YamlScalarNode tokenKey, YamlNode node)
    {
        var token = tokenKey.Value!;
        if (node is not YamlMappingNode map)
        {
            Report(DiagnosticDescriptors.WrongType, Loc(node), null, "tokenizer.tokens['" + token + "']", "a mapping with 'source' and/or 'force'");
            return null;
        }
        TokenEmbeddingKind? kind = null;
        ModelReference? model = null;
        string? sourceToken = null;
        long? sourceId = null;
        bool force = false;
        SourceLocation sourceLoc = Loc(map);
        foreach (var (key, k, value) in Entries(map))
        {
            switch (key)
            {
                case "force":
                    if (value is YamlScalarNode s && YamlScalars.IsPlain(s) && YamlScalars.Resolve(s) is bool b) force = b;
                    else Report(DiagnosticDescriptors.WrongType, Loc(value), null, "force", "true or false");
                    break;
                case "source":
                    sourceLoc = Loc(value);
                    if (value is YamlMappingNode sourceMap && HasKey(sourceMap, "kind"))
                        (kind, model, sourceToken, sourceId) = ReadTokenSource(sourceMap);
                    else if ((model = ReadModelReference(value, "source")) is not null)
                        kind = TokenEmbeddingKind.Model;
                    break;
                default:
                    ReportUnknownKey(k, key, "a token entry", TokenRuleKeys);
                    break;
            }
        }
        return new TokenEmbeddingRule
        {
            Token = token, Location = Loc(tokenKey), Kind = kind, Model = model, SourceToken = sourceToken, SourceTokenId = sourceId,
            SourceLocation = sourceLoc, Force = force,
        };
    }

    private (TokenEmbeddingKind?, ModelReference?, string?, long?) ReadTokenSource(YamlMappingNode map)
    {
        string? kindText = null, token = null;
        long? id = null;
        ModelReference? model = null;
        YamlNode? kindNode = null;
        foreach (var (key, k, value) in Entries(map))
        {
            switch (key)
            {
                case "kind": kindNode = value; kindText = ReadString(value, "kind"); break;
                case "model": model = ReadModelReference(value, "model"); break;
                case "token": token = ReadString(value, "token"); break;
                case "token_id": id = ReadNonNegativeInteger(value, "token_id"); break;
                default: ReportUnknownKey(k, key, "a token source", TokenSourceKeys); break;
            }
        }
        switch (kindText)
        {
            case "zero":
                return (TokenEmbeddingKind.Zero, null, null, null);
            case "model_token":
                if (model is null) Report(DiagnosticDescriptors.MissingKey, Loc(map), null, "a 'model_token' source", "model");
                if ((token is null) == (id is null))
                    Report(DiagnosticDescriptors.InvalidTokenRule, Loc(map), "give either 'token: TEXT' or 'token_id: N'",
                        "a 'model_token' source needs exactly one of 'token' and 'token_id'");
                return (TokenEmbeddingKind.ModelToken, model, token, id);
            default:
                Report(DiagnosticDescriptors.InvalidTokenRule, Loc(kindNode ?? map), NameSuggester.Hint(NameSuggester.Suggest(kindText ?? "", TokenSourceKinds)),
                    "'kind' must be 'model_token' or 'zero', not '" + kindText + "'");
                return (null, null, null, null);
        }
    }

    private long? ReadPositiveInteger(YamlNode node, string key)
    {
        var value = ReadNonNegativeInteger(node, key);
        if (value == 0)
        {
            Report(DiagnosticDescriptors.WrongType, Loc(node), null, key, "a positive integer");
            return null;
        }
        return value;
    }

    private long? ReadNonNegativeInteger(YamlNode node, string key)
    {
        if (node is YamlScalarNode s && YamlScalars.IsPlain(s)
            && long.TryParse((s.Value ?? string.Empty).Replace("_", string.Empty), NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            && n <= int.MaxValue)
            return n;
        Report(DiagnosticDescriptors.WrongType, Loc(node), null, key, "a non-negative integer (at most 2147483647)");
        return null;
    }
}
