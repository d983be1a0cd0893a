using DotnetMerge.Engine;
using DotnetMerge.Output;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Pickle;

/// <summary>What <see cref="TorchBinConverter.ConvertAsync"/> wrote.</summary>
public sealed record ConvertResult(string OutputDirectory, int TensorCount, long TensorBytes, int ShardCount, IReadOnlyList<string> CopiedFiles);

/// <summary><c>dotnet merge convert IN OUT</c>: a PyTorch (.bin) model directory to safetensors, tensor by tensor (one
/// tensor in memory at a time), same tensor names and dtypes, every other top-level file (config, tokenizer, card)
/// copied. The output is written to a staging directory and renamed into place.</summary>
public static class TorchBinConverter
{
    public static async Task<ConvertResult> ConvertAsync(string input, string output, bool force, long maxShardBytes, CancellationToken ct = default)
    {
        var inputDirectory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(input));
        if (!Directory.Exists(inputDirectory))
            throw new MergeException(MergeErrorKind.Input, ErrorIds.ModelUnavailable, $"{inputDirectory}: the model directory {Models.PathKind.Describe(inputDirectory)}");
        ModelCheckpoint checkpoint;
        try { checkpoint = ModelCheckpoint.Open(inputDirectory, WeightsFormat.PyTorchBin); }
        catch (CheckpointException e) { throw new MergeException(MergeErrorKind.Input, ErrorIds.ModelUnavailable, e.Message, e); }
        using (checkpoint)
        {
            using var transaction = OutputTransaction.Begin(output, force, [inputDirectory]);
            var tensors = checkpoint.Shards.SelectMany(f => f.Tensors.Select(t => (Tensor: t, File: f))).ToList();
            var declared = tensors.Select(t => new OutputTensor(t.Tensor.Name, t.Tensor.Dtype, t.Tensor.Shape)).ToList();
            long bytes = 0;
            int shardCount;
            try
            {
                await using (var writer = new ShardedModelWriter(transaction.StagingDirectory, declared, maxShardBytes,
                                 new Dictionary<string, string> { ["format"] = "pt" }))
                {
                    foreach (var (tensor, file) in tensors)
                    {
                        ct.ThrowIfCancellationRequested();
                        if (tensor.ByteLength > Array.MaxLength)
                            throw new MergeException(MergeErrorKind.Input, ErrorIds.UnsupportedTensor,
                                $"{file.Path}: tensor '{tensor.Name}' has {tensor.ByteLength} bytes; convert holds one tensor in memory and supports tensors up to {Array.MaxLength} bytes");
                        var data = GC.AllocateUninitializedArray<byte>((int)tensor.ByteLength);
                        file.ReadTensor(tensor, data);
                        await writer.WriteTensorAsync(tensor.Name, data, ct).ConfigureAwait(false);
                        bytes += data.Length;
                    }
                    await writer.CompleteAsync(ct).ConfigureAwait(false);
                    shardCount = writer.Shards.Count;
                }
            }
            catch (Exception e) when (OutputErrors.From(e, transaction.OutputDirectory) is { } error)
            {
                throw error;
            }
            var copied = new List<string>();
            foreach (var path in Directory.EnumerateFiles(inputDirectory).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(path);
                if (name.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) || name == ModelCheckpoint.BinIndexFileName
                    || name.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || name == ModelCheckpoint.IndexFileName) continue;
                File.Copy(path, Path.Combine(transaction.StagingDirectory, name));
                copied.Add(name);
            }
            transaction.Commit(ct);
            return new ConvertResult(transaction.OutputDirectory, declared.Count, bytes, shardCount, copied);
        }
    }
}
