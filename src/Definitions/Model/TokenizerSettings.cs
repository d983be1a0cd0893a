namespace DotnetMerge.Definitions;

/// <summary>Where a token's embedding comes from when a model lacks the token (or for every model, when forced).</summary>
public enum TokenEmbeddingKind
{
    /// <summary>The named model's row of the same token (<c>source: model-ref</c>).</summary>
    Model,
    /// <summary>The named model's row of another token, by text or id (<c>{kind: model_token, model, token | token_id}</c>).</summary>
    ModelToken,
    /// <summary>A zero vector (<c>{kind: zero}</c>).</summary>
    Zero,
}

/// <summary>One entry of <c>tokenizer.tokens</c>: the embedding of <see cref="Token"/> in the output.</summary>
public sealed class TokenEmbeddingRule
{
    /// <summary>The token's text (the key of the entry); added to the output vocabulary when no model has it.</summary>
    public string Token { get; init; } = string.Empty;

    public SourceLocation Location { get; init; }

    /// <summary>Null when the entry gives only <c>force</c> (the default embedding rules apply).</summary>
    public TokenEmbeddingKind? Kind { get; init; }

    /// <summary>The model of <see cref="TokenEmbeddingKind.Model"/> and <see cref="TokenEmbeddingKind.ModelToken"/>.</summary>
    public ModelReference? Model { get; init; }

    /// <summary><see cref="TokenEmbeddingKind.ModelToken"/>: the other token's text, or null when <see cref="SourceTokenId"/> is set.</summary>
    public string? SourceToken { get; init; }

    /// <summary><see cref="TokenEmbeddingKind.ModelToken"/>: the other token's id in <see cref="Model"/>'s vocabulary.</summary>
    public long? SourceTokenId { get; init; }

    public SourceLocation SourceLocation { get; init; }

    /// <summary>Use this embedding in every model, also in those that have the token.</summary>
    public bool Force { get; init; }
}

/// <summary>The output vocabulary rule: <c>tokenizer_source:</c> (legacy) or the <c>tokenizer:</c> section.</summary>
public sealed class TokenizerSettings
{
    /// <summary>"union", "base" or a model reference in string form.</summary>
    public string Source { get; init; } = "union";

    public SourceLocation SourceLocation { get; init; }

    /// <summary>Where the rule is written (the <c>tokenizer:</c> key, or the <c>tokenizer_source</c> value).</summary>
    public SourceLocation Location { get; init; }

    public IReadOnlyList<TokenEmbeddingRule> Tokens { get; init; } = Array.Empty<TokenEmbeddingRule>();

    /// <summary>Embedding rows are padded up to a multiple of this (never cut below what the vocabulary needs).</summary>
    public long? PadToMultipleOf { get; init; }

    public SourceLocation PadToMultipleOfLocation { get; init; }

    /// <summary>True when written as the <c>tokenizer:</c> section.</summary>
    public bool IsSection { get; init; }
}
