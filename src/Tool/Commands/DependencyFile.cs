using System.CommandLine;
using DotnetMerge.Hub;
using DotnetMerge.Models;
using DotnetMerge.Output;
using DotnetMerge.Planning;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>--deps-file FILE</c> of <c>run</c> and <c>check</c>: every file the merge reads, one full path a line (sorted,
/// no duplicates), for build tools' up-to-date checks (the MSBuild step reads it for its Inputs, as Grpc.Tools reads
/// protoc's). Listed: the definition; for each input model, of every stage, its config.json, generation_config.json,
/// model card, tokenizer files, safetensors index and every shard the index (or the directory) names; a LoRA adapter's
/// config and weights; and for a Hugging Face model named by a branch or tag, the cache's <c>refs/&lt;revision&gt;</c>
/// file, which changes when the revision moves to another commit.</summary>
public static class DependencyFile
{
    public static Option<FileInfo> CreateOption() => new("--deps-file")
    {
        Description = "Write every file the merge reads (definition, model config, index, shards, tokenizer, adapters) to FILE, one path a line, for build tools' up-to-date checks.",
    };

    /// <summary>The files a planned merge reads (every stage), as sorted full paths.</summary>
    public static IReadOnlyList<string> Collect(string definitionPath, MultiStagePlan plan, HubSettings? hub)
    {
        var files = new SortedSet<string>(StringComparer.Ordinal) { Path.GetFullPath(definitionPath) };
        foreach (var stage in plan.Stages)
            if (stage.Plan is { } p)
                foreach (var model in p.Models)
                    Add(model, files, hub);
        return [.. files];
    }

    private static void Add(ModelSource model, SortedSet<string> files, HubSettings? hub)
    {
        if (model.Stage is not null) return; // an earlier stage's output: its own inputs are listed with that stage
        void IfExists(string path)
        {
            if (File.Exists(path)) files.Add(Path.GetFullPath(path));
        }
        foreach (var name in new[] { "config.json", "README.md", ModelCheckpoint.IndexFileName, ModelCheckpoint.BinIndexFileName }.Concat(ModelFiles.TokenizerFiles))
            IfExists(Path.Combine(model.Directory, name));
        foreach (var shard in model.Checkpoint.Shards)
            files.Add(Path.GetFullPath(shard.Path));
        if (model.Adapter is { } adapter)
        {
            IfExists(Path.Combine(adapter.Directory, "adapter_config.json"));
            files.Add(Path.GetFullPath(adapter.File.Path));
        }
        // A hub model named by a branch or tag: the ref records the commit it resolved to.
        if (hub is not null && HubModelId.TryCreate(model.Reference.Path, model.Reference.Revision) is { RevisionIsCommit: false } id)
        {
            var cache = new HubCache(hub.CacheDirectory, id);
            if (Path.GetFullPath(model.Directory).StartsWith(Path.GetFullPath(cache.Folder) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                IfExists(Path.Combine(cache.Folder, "refs", id.Revision));
        }
    }

    /// <summary>Writes the list atomically (a temporary sibling renamed into place), creating the directory.</summary>
    public static void Write(string path, IReadOnlyList<string> files)
    {
        var full = Path.GetFullPath(path);
        var temp = full + ".tmp-" + Environment.ProcessId;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllLines(temp, files);
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw new Engine.MergeException(Engine.MergeErrorKind.Output, Engine.ErrorIds.OutputWriteFailed, $"{full}: cannot write the dependency file ({e.Message})", e);
        }
    }
}
