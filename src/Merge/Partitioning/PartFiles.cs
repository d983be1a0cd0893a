using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DotnetMerge.Engine;
using DotnetMerge.Output;

namespace DotnetMerge.Partitioning;

/// <summary>The bookkeeping of a partitioned (or resumable) run, all inside one hidden directory of the output, so that
/// until <c>join</c> nothing in the output looks like a model:
/// <c>OUT/.dotnet-merge-parts/</c> holds <c>plan.json</c> (the manifest: definition, options, fingerprint, shard
/// assignment), <c>shards/</c> (finished shards, each renamed in when complete), <c>records/</c> (one record per finished
/// shard: size, XxHash128, sha256, fingerprint; one per finished part), <c>stats.json</c> (whole-model statistics from
/// <c>prepare</c>) and <c>staging/</c> (shards being written, one directory per worker). A plain <c>run</c> keeps only
/// <c>records/</c>, inside its staging directory beside the output, and removes it before the output is renamed into
/// place; <c>run --resume</c> takes over the recorded shards of a plain run that was killed.</summary>
public sealed class PartFiles
{
    public const string DirectoryName = ".dotnet-merge-parts";
    public const int Version = 1;

    public PartFiles(string output)
    {
        Output = Path.TrimEndingDirectorySeparator(Path.GetFullPath(output));
        Root = Path.Combine(Output, DirectoryName);
    }

    public string Output { get; }
    public string Root { get; }
    public string Manifest => Path.Combine(Root, "plan.json");
    public string Stats => Path.Combine(Root, "stats.json");
    public string Shards => Path.Combine(Root, "shards");
    public string Records => Path.Combine(Root, "records");
    public string Staging => Path.Combine(Root, "staging");
    public string Shard(string file) => Path.Combine(Shards, file);
    public string ShardRecordPath(string file) => RecordPath(Records, file);
    private static string RecordPath(string records, string file) => Path.Combine(records, file + ".json");
    public string PartRecord(PartSpec part) => Path.Combine(Records, string.Create(CultureInfo.InvariantCulture, $"part-{part.Index}-of-{part.Count}.json"));

    /// <summary>A finished shard's record: its digest as it was written (the sha256 is null in a plain run's records) and
    /// the plan it is of.</summary>
    public sealed record ShardRecord(string File, FileDigest Digest, PlanFingerprint Fingerprint, int Part, int Parts)
    {
        public long Size => Digest.Size;
    }

    /// <summary>How far a shard is checked against its record: its size only (the shards this process has just written or
    /// checked), read back against the XxHash128 (join's default, resume), or also against the sha256 (<c>join --verify</c>).</summary>
    public enum ShardCheck { Size, ReadBack, ReadBackWithSha256 }

    /// <summary>Whether the file at <paramref name="path"/> is the one <paramref name="record"/> describes: it exists, has the
    /// recorded size and, read back (<paramref name="check"/>), the recorded XxHash128 (and sha256). Returns what is wrong,
    /// in words that follow "shard NAME" (null when nothing is), and the digest read back (null when not read).</summary>
    public static async Task<(string? Problem, FileDigest? Read)> CheckAsync(string path, ShardRecord record, ShardCheck check, CancellationToken ct)
    {
        if (!File.Exists(path)) return ("is missing", null);
        long size = new FileInfo(path).Length;
        if (size != record.Size) return ($"has {size} bytes, its part recorded {record.Size}", null);
        if (check == ShardCheck.Size) return (null, null);
        bool sha256 = check == ShardCheck.ReadBackWithSha256;
        var read = await FileDigest.OfFileAsync(path, sha256, ct).ConfigureAwait(false);
        if (read.Xxh128 != record.Digest.Xxh128) return ("does not have the XxHash128 its part recorded (corrupt)", read);
        if (sha256 && record.Digest.Sha256 is { } recorded && read.Sha256 != recorded) return ("does not have the sha256 its part recorded (corrupt)", read);
        return (null, read);
    }

    public void WriteShardRecord(ShardRecord record) => WriteShardRecord(Records, record);

    public static void WriteShardRecord(string records, ShardRecord record) => WriteJson(RecordPath(records, record.File), new JsonObject
    {
        ["version"] = Version, ["shard"] = record.File, ["size"] = record.Size, ["xxh128"] = record.Digest.Xxh128, ["sha256"] = record.Digest.Sha256,
        ["plan_sha256"] = record.Fingerprint.Plan, ["definition_sha256"] = record.Fingerprint.Definition, ["inputs_sha256"] = record.Fingerprint.Inputs,
        ["part"] = record.Part, ["parts"] = record.Parts,
    });

    /// <summary>The record of a shard, or null when there is none (or it is unreadable: then the shard is recomputed).</summary>
    public ShardRecord? ReadShardRecord(string file) => ReadShardRecord(Records, file);

    public static ShardRecord? ReadShardRecord(string records, string file)
    {
        var json = TryReadJson(RecordPath(records, file));
        try
        {
            // A record of an earlier dotnet-merge holds no XxHash128: as if there were none (the shard is recomputed).
            if (json is null || (int?)json["version"] != Version || (string?)json["xxh128"] is not { Length: 32 } xxh128) return null;
            var digest = new FileDigest((long)json["size"]!, xxh128, (string?)json["sha256"]);
            return new ShardRecord((string)json["shard"]!, digest,
                new PlanFingerprint((string)json["definition_sha256"]!, (string)json["inputs_sha256"]!), (int)json["part"]!, (int)json["parts"]!);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException) { return null; }
    }

    /// <summary>Writes <paramref name="json"/> to a temporary file and renames it over <paramref name="path"/>, so a reader
    /// sees the old file or the new one, never a part.</summary>
    public static void WriteJson(string path, JsonNode json, bool replace = true)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + string.Create(CultureInfo.InvariantCulture, $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        File.WriteAllText(temp, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        try
        {
            if (replace) File.Move(temp, path, overwrite: true);
            else if (!DotnetMerge.Output.AtomicRename.TryMoveNoReplace(temp, path)) File.Delete(temp);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    public static JsonObject? TryReadJson(string path)
    {
        if (!File.Exists(path)) return null;
        try { return JsonNode.Parse(File.ReadAllText(path)) as JsonObject; }
        catch (JsonException) { return null; }
    }

    public static JsonObject ReadJson(string path, string what)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                   ?? throw new MergeException(MergeErrorKind.Input, ErrorIds.PartRecordUnreadable, $"{what} '{path}' is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new MergeException(MergeErrorKind.Input, ErrorIds.PartRecordUnreadable, $"{what} '{path}' is not valid JSON ({e.Message}); remove it and run the parts again", e);
        }
    }
}
