using System.Globalization;
using System.Runtime.InteropServices;
using DotnetMerge.Engine;

namespace DotnetMerge.Moe;

/// <summary>Token ids of the prompts, from the base's tokenizer.json through Hugging Face's own tokenizers library (the
/// Rust crate that transformers' fast tokenizers, and so mergekit, run; bound by Tokenizers.DotNet). Each prompt is
/// BOS followed by the prompt's tokens, as mergekit tokenizes <c>bos_token + prompt</c> without other special tokens.
/// The native library is referenced for linux-x64; elsewhere this is a clear DMRG0952 error (the random gate modes
/// need no tokenizer).</summary>
public sealed class PromptTokenizer : IDisposable
{
    private readonly global::Tokenizers.DotNet.Tokenizer _tokenizer;
    private readonly int? _bos;
    private readonly string _path;

    private PromptTokenizer(global::Tokenizers.DotNet.Tokenizer tokenizer, int? bos, string path)
    {
        _tokenizer = tokenizer; _bos = bos; _path = path;
    }

    /// <summary>Opens <c>tokenizer.json</c> of <paramref name="modelDirectory"/>; <paramref name="bosTokenId"/> is the
    /// config's <c>bos_token_id</c> (none: nothing is put first).</summary>
    public static PromptTokenizer Open(string modelDirectory, string modelName, int? bosTokenId)
    {
        var path = Path.Combine(modelDirectory, "tokenizer.json");
        if (!File.Exists(path))
            throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeTokenizer,
                $"base model '{modelName}' has no tokenizer.json ({modelDirectory}): the gate modes hidden, hidden_avg and cheap_embed tokenize the prompts with it; " +
                "add the model's tokenizer.json, or use gate_mode random or uniform_random");
        try
        {
            return new PromptTokenizer(new global::Tokenizers.DotNet.Tokenizer(vocabPath: path), bosTokenId, path);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or TypeInitializationException)
        {
            throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeTokenizer,
                $"the tokenizer library (Hugging Face tokenizers, through Tokenizers.DotNet) cannot be loaded on {RuntimeInformation.RuntimeIdentifier}: " +
                "this build carries its native library for linux-x64 only; run the prompt-based gate modes there, or use gate_mode random or uniform_random", e);
        }
        catch (Exception e) when (e is global::Tokenizers.DotNet.TokenizerException or IOException)
        {
            throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeTokenizer, $"{path}: the tokenizer cannot be read: {e.Message}", e);
        }
    }

    /// <summary>BOS (when the model has one) and the prompt's token ids.</summary>
    public int[] Encode(string prompt)
    {
        uint[] ids;
        try { ids = _tokenizer.Encode(prompt); }
        catch (global::Tokenizers.DotNet.TokenizerException e)
        {
            throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeTokenizer, $"{_path}: the prompt '{prompt}' cannot be tokenized: {e.Message}", e);
        }
        var list = new List<int>(ids.Length + 1);
        // The library may already put the post-processor's BOS first; mergekit has exactly one.
        if (_bos is { } bos && (ids.Length == 0 || ids[0] != (uint)bos)) list.Add(bos);
        foreach (var id in ids)
        {
            if (id > int.MaxValue)
                throw new MergeException(MergeErrorKind.Input, ErrorIds.MoeTokenizer, $"{_path}: token id {id.ToString(CultureInfo.InvariantCulture)} is out of range");
            list.Add((int)id);
        }
        return list.ToArray();
    }

    public void Dispose() => _tokenizer.Dispose();
}
