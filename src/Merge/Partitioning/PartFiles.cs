using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using DotnetMerge.Engine;

namespace DotnetMerge.Partitioning;

/// <summary>The bookkeeping of a partitioned (or resumable) run, all inside one hidden directory of the output, so that
/// until <c>join</c> nothing in the output looks like a model:
/// <c>OUT/.dotnet-merge-parts/</c> holds <c>plan.json</c> (the manifest: definition, options, fingerprint, shard
/// assignment), <c>shards/</c> (finished shards, each renamed in when complete), <c>records/</c> (one record per finished
/// shard: size, sha256, fingerprint; one per finished part), <c>stats.json</c> (whole-model statistics from
/// <c>prepare</c>) and <c>staging/</c> (shards being written, one directory per worker).</summary>
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
    public string ShardRecordPath(string file) => Path.Combine(Records, file + ".json");
    public string PartRecord(PartSpec part) => Path.Combine(Records, string.Create(CultureInfo.InvariantCulture, $"part-{part.Index}-of-{part.Count}.json"));

    /// <summary>A finished shard's record.</summary>
    public sealed record ShardRecord(string File, long Size, string Sha256, PlanFingerprint Fingerprint, int Part, int Parts);

    public static async Task<string> Sha256Async(string path, CancellationToken ct)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan | FileOptions.Asynchronous);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct).ConfigureAwait(false));
    }

    public void WriteShardRecord(ShardRecord record) => WriteJson(ShardRecordPath(record.File), new JsonObject
    {
        ["version"] = Version, ["shard"] = record.File, ["size"] = record.Size, ["sha256"] = record.Sha256,
        ["plan_sha256"] = record.Fingerprint.Plan, ["definition_sha256"] = record.Fingerprint.Definition, ["inputs_sha256"] = record.Fingerprint.Inputs,
        ["part"] = record.Part, ["parts"] = record.Parts,
    });

    /// <summary>The record of a shard, or null when there is none (or it is unreadable: then the shard is recomputed).</summary>
    public ShardRecord? ReadShardRecord(string file)
    {
        var json = TryReadJson(ShardRecordPath(file));
        try
        {
            if (json is null || (int?)json["version"] != Version) return null;
            return new ShardRecord((string)json["shard"]!, (long)json["size"]!, (string)json["sha256"]!,
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
