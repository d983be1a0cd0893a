using System.Runtime.InteropServices;

namespace DotnetMerge.Tests.Tokenizers;

/// <summary>Loads a written tokenizer.json with Hugging Face's own tokenizers library (the Rust crate, through
/// Tokenizers.DotNet), not with the merge's parser, and checks the ids it gives.</summary>
internal static class HfTokenizer
{
    /// <summary>Only linux-x64 native bindings are referenced.</summary>
    public static string? Unavailable => RuntimeInformation.RuntimeIdentifier.StartsWith("linux", StringComparison.Ordinal)
                                         && RuntimeInformation.ProcessArchitecture == Architecture.X64
        ? null
        : "the tests reference Tokenizers.DotNet's linux-x64 native library only";

    /// <summary>Every token text of <paramref name="expected"/> encodes, alone and all together in one text, to the id
    /// given, and the output has no other id.</summary>
    public static void AssertIds(string directory, IReadOnlyDictionary<string, int> expected)
    {
        Skip.If(Unavailable is not null, Unavailable);
        using var tokenizer = new global::Tokenizers.DotNet.Tokenizer(vocabPath: Path.Combine(directory, "tokenizer.json"));
        foreach (var (text, id) in expected)
            Assert.True(tokenizer.Encode(text) is [var got] && got == (uint)id,
                $"'{text}' encodes to [{string.Join(", ", tokenizer.Encode(text))}], the rules say [{id}]");
        var ordered = expected.OrderBy(p => p.Value).ToList();
        Assert.Equal(ordered.Select(p => (uint)p.Value).ToArray(), tokenizer.Encode(string.Join(" ", ordered.Select(p => p.Key))));
    }
}
