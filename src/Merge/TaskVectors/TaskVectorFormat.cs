using System.Globalization;
using DotnetMerge.Engine;
using DotnetMerge.Numerics;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Deltas;

/// <summary>A task vector directory as written by <see cref="TaskVector.ExtractAsync"/>: safetensors files of deltas
/// (fine-tune − base) named like the base's tensors, or factor pairs <c>NAME.lora_A</c> (r×n) and <c>NAME.lora_B</c> (m×r)
/// with delta = lora_B · lora_A; each file's <c>__metadata__</c> carries the keys below.</summary>
public sealed record TaskVectorInfo(string Directory, string BasePath, string BaseFingerprint, string BaseStructure, string? FineTunePath,
    Dtype Dtype, int? Rank)
{
    public const string KindKey = "dotnet_merge.kind";
    public const string KindValue = "task_vector";
    public const string BaseKey = "dotnet_merge.base";
    public const string BaseFingerprintKey = "dotnet_merge.base_fingerprint";
    public const string BaseStructureKey = "dotnet_merge.base_structure";
    public const string FineTuneKey = "dotnet_merge.finetune";
    public const string DtypeKey = "dotnet_merge.dtype";
    public const string RankKey = "dotnet_merge.rank";
    public const string FactorA = ".lora_A";
    public const string FactorB = ".lora_B";

    /// <summary>Reads the metadata of a task vector directory (from its first safetensors file).</summary>
    public static TaskVectorInfo Read(string directory)
    {
        using var checkpoint = Open(directory);
        return Read(checkpoint);
    }

    internal static ModelCheckpoint Open(string directory)
    {
        try { return ModelCheckpoint.Open(directory); }
        catch (Exception e) when (e is CheckpointException or SafetensorsFormatException or IOException or UnauthorizedAccessException)
        {
            throw new MergeException(MergeErrorKind.Input, ErrorIds.TaskVectorInvalid, $"task vector '{directory}': {e.Message}", e);
        }
    }

    internal static TaskVectorInfo Read(ModelCheckpoint checkpoint)
    {
        var meta = checkpoint.Shards[0].Metadata;
        string? Get(string key) => meta.TryGetValue(key, out var v) ? v : null;
        if (Get(KindKey) != KindValue)
            throw new MergeException(MergeErrorKind.Input, ErrorIds.TaskVectorInvalid,
                $"'{checkpoint.Directory}' is not a task vector (its safetensors metadata has no {KindKey} = {KindValue}); make one with `dotnet merge extract --base B --model F -o DIR`");
        string Required(string key) => Get(key) ?? throw new MergeException(MergeErrorKind.Input, ErrorIds.TaskVectorInvalid, $"task vector '{checkpoint.Directory}': metadata key {key} is missing");
        var dtypeName = Required(DtypeKey);
        if (!DtypeInfo.TryFromTorchName(dtypeName, out var dtype))
            throw new MergeException(MergeErrorKind.Input, ErrorIds.TaskVectorInvalid, $"task vector '{checkpoint.Directory}': unknown {DtypeKey} '{dtypeName}'");
        int? rank = Get(RankKey) is { } r ? int.Parse(r, NumberStyles.Integer, CultureInfo.InvariantCulture) : null;
        return new TaskVectorInfo(checkpoint.Directory, Required(BaseKey), Required(BaseFingerprintKey), Required(BaseStructureKey), Get(FineTuneKey), dtype, rank);
    }

    /// <summary>The placeholder written for the full fingerprint before it is known (same length as a SHA-256 hex digest).</summary>
    internal static readonly string FingerprintPlaceholder = new('0', 64);

    /// <summary>Overwrites the fingerprint placeholder in a finished file's header (same length, so nothing moves).</summary>
    internal static void PatchFingerprint(string file, string fingerprint)
    {
        var marker = System.Text.Encoding.UTF8.GetBytes($"\"{BaseFingerprintKey}\":\"{FingerprintPlaceholder}\"");
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        long headerLength = BitConverter.ToInt64(prefix);
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        int at = header.AsSpan().IndexOf(marker);
        if (at < 0) throw new InvalidOperationException($"{file}: no fingerprint placeholder in the header");
        stream.Position = 8 + at + marker.Length - 1 - FingerprintPlaceholder.Length;
        stream.Write(System.Text.Encoding.ASCII.GetBytes(fingerprint));
        stream.Flush(flushToDisk: true);
    }
}

/// <summary>A task vector and its scaling coefficient λ; text form <c>PATH[:LAMBDA]</c> (λ = 1 when omitted; negative
/// λ subtracts the task, e.g. <c>tv:-1</c>).</summary>
public sealed record ScaledTaskVector(string Path, double Lambda)
{
    public static ScaledTaskVector Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        int colon = text.LastIndexOf(':');
        if (colon > 0 && double.TryParse(text.AsSpan(colon + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var lambda))
        {
            if (!double.IsFinite(lambda)) throw new ArgumentException($"the scale of task vector '{text}' must be a finite number");
            return new ScaledTaskVector(text[..colon], lambda);
        }
        return new ScaledTaskVector(text, 1.0);
    }

    public override string ToString() => Path + ":" + Lambda.ToString("R", CultureInfo.InvariantCulture);
}
