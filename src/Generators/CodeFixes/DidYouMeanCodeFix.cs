using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.Text;

namespace DotnetMerge.Generators.CodeFixes;

/// <summary>"Change to 'density'" for every definition diagnostic that suggests names (an unknown key, parameter, method or
/// dtype that is a near miss): the IDE offers one fix per suggestion on the misspelt word of the <c>*.merge.yaml</c>, an
/// AdditionalFile. The suggestions travel in the diagnostic's properties (<see cref="SuggestionsProperty"/>), written by
/// the generator from the definition library's hint, so the fix never re-parses a message.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(DidYouMeanCodeFix),
    DocumentKinds = new[] { nameof(TextDocumentKind.AdditionalDocument) }, DocumentExtensions = new[] { ".yaml" })]
[Shared]
public sealed class DidYouMeanCodeFix : CodeFixProvider
{
    /// <summary>The diagnostic property holding the suggested names, '\n'-separated (the generator's
    /// <c>DiagnosticInfo.SuggestionsProperty</c>).</summary>
    public const string SuggestionsProperty = "DotnetMerge.Suggestions";

    /// <summary>The ids whose hint can be "did you mean ...": unknown key (DMRG0101; a near miss DMRG0109), unknown method
    /// (DMRG0201), unknown parameter (DMRG0301; a near miss DMRG0312), a value not among the listed ones (DMRG0303), dtype
    /// (DMRG0501), tokenizer source (DMRG0502), chat template (DMRG0504).</summary>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } =
        ImmutableArray.Create("DMRG0101", "DMRG0109", "DMRG0201", "DMRG0301", "DMRG0303", "DMRG0312", "DMRG0501", "DMRG0502", "DMRG0504");

    public override FixAllProvider? GetFixAllProvider() => null;

    public override Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        foreach (var diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.TryGetValue(SuggestionsProperty, out var names) || string.IsNullOrEmpty(names) || diagnostic.Location.SourceSpan.IsEmpty)
                continue;
            foreach (var name in names!.Split('\n').Where(n => n.Length > 0).Distinct())
            {
                context.RegisterCodeFix(
                    CodeAction.Create("Change to '" + name + "'", ct => Replace(context.TextDocument, diagnostic.Location.SourceSpan, name, ct),
                        equivalenceKey: nameof(DidYouMeanCodeFix) + ":" + name),
                    diagnostic);
            }
        }

        return Task.CompletedTask;
    }

    private static async Task<Solution> Replace(TextDocument document, TextSpan span, string name, System.Threading.CancellationToken cancellationToken)
    {
        var text = await document.GetTextAsync(cancellationToken).ConfigureAwait(false);
        return document.Project.Solution.WithAdditionalDocumentText(document.Id, text.Replace(Word(text, span), name));
    }

    /// <summary>The misspelt word in the diagnostic's span: after an opening quote, up to the first character that no
    /// key, method or dtype name has (a flow mapping's ',' or '}', a closing quote).</summary>
    internal static TextSpan Word(SourceText text, TextSpan span)
    {
        var start = span.Start;
        var end = span.End;
        if (start < end && text[start] is '\'' or '"')
            start++;
        var stop = start;
        while (stop < end && (char.IsLetterOrDigit(text[stop]) || text[stop] is '_' or '-' or '.' or '/'))
            stop++;
        return TextSpan.FromBounds(start, stop);
    }
}
