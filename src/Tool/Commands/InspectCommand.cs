using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using DotnetMerge.Adapters;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Kernels;
using DotnetMerge.Models;
using DotnetMerge.Numerics;
using DotnetMerge.Planning;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge inspect PATH</c>: the tensors of a .safetensors or .bin file or a model directory (headers only; a .bin's pickle is read without running code).</summary>
public static class InspectCommand
{
    public static Command Create(ToolConsole console)
    {
        var command = new Command("inspect", "List the tensors (name, dtype, shape, size, shard) and metadata of a .safetensors or PyTorch .bin file or model directory, or of BASE+ADAPTER (a model with a PEFT LoRA adapter: which tensors the adapter changes). Reads headers only.");
        var path = new Argument<string>("path") { Description = "A .safetensors or .bin file, a model directory, or BASE+ADAPTER (two directories)." };
        var json = new Option<bool>("--json") { Description = "Print as JSON." };
        var options = new CommonOptions();
        command.Arguments.Add(path);
        command.Options.Add(json);
        options.AddTo(command, mergeOptions: false);
        command.SetAction((result, ct) =>
        {
            var verbosity = options.GetVerbosity(result);
            return Cli.Guard(console, verbosity, () =>
            {
                var raw = result.GetValue(path)!;
                var target = Path.GetFullPath(raw);
                var entries = new List<(TensorInfo Info, string File, IReadOnlyDictionary<string, string> Metadata)>();
                Func<string, string?> change = _ => null;
                using var adapted = OpenAdapted(raw, console);
                try
                {
                    if (adapted is not null)
                    {
                        target = adapted.Directory + " + " + adapted.Adapter!.Directory;
                        foreach (var shard in adapted.Checkpoint.Shards)
                            entries.AddRange(shard.Tensors.Select(t => (t, Path.GetFileName(shard.Path), shard.Metadata)));
                        change = adapted.Adapter.Describe;
                    }
                    else if (File.Exists(target))
                    {
                        using var file = ModelCheckpoint.OpenWeightFile(target);
                        entries.AddRange(file.Tensors.Select(t => (t, Path.GetFileName(target), file.Metadata)));
                    }
                    else if (Directory.Exists(target))
                    {
                        using var checkpoint = ModelCheckpoint.Open(target);
                        foreach (var shard in checkpoint.Shards)
                            entries.AddRange(shard.Tensors.Select(t => (t, Path.GetFileName(shard.Path), shard.Metadata)));
                    }
                    else throw new MergeException(MergeErrorKind.Input, ErrorIds.ModelUnavailable, $"'{target}' is neither a file nor a directory");
                }
                catch (Exception e) when (e is SafetensorsFormatException or CheckpointException)
                {
                    throw new MergeException(MergeErrorKind.Input, ErrorIds.ModelUnavailable, e.Message, e);
                }
                if (result.GetValue(json)) console.Out.WriteLine(ToJson(target, entries, change).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                else PrintText(console.Out, target, entries, change);
                return Task.FromResult(ExitCodes.Success);
            }, ct);
        });
        return command;
    }

    /// <summary>For <c>BASE+ADAPTER</c> (a LoRA reference whose base is a directory): the base opened with the adapter,
    /// checked against it (an adapter that does not fit is an error, a different base_model_name_or_path a warning).</summary>
    private static ModelSource? OpenAdapted(string raw, ToolConsole console)
    {
        if (File.Exists(raw) || Directory.Exists(raw) || !ModelReference.TryParse(raw, out var reference, out _) || reference!.LoraPath is not { } lora)
            return null;
        var model = ModelSource.Open(reference, Path.GetFullPath(reference.Path));
        try
        {
            model.UseAdapter(LoraAdapter.Open(Path.GetFullPath(lora)));
            var findings = model.Adapter!.Check(model, allowCrimes: true, default);
            foreach (var w in findings.Where(f => !f.IsError)) console.Err.WriteLine(w);
            if (findings.Any(f => f.IsError))
                throw new PlanningException(findings);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static void PrintText(TextWriter w, string target, List<(TensorInfo Info, string File, IReadOnlyDictionary<string, string> Metadata)> entries,
        Func<string, string?> change)
    {
        w.WriteLine(target);
        foreach (var file in entries.Select(e => e.File).Distinct())
        {
            var metadata = entries.First(e => e.File == file).Metadata;
            w.WriteLine($"  {file}: {entries.Count(e => e.File == file)} tensors" + (metadata.Count > 0
                ? "; metadata " + string.Join(", ", metadata.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => m.Key + "=" + m.Value)) : ""));
        }
        int nameWidth = Math.Min(70, entries.Count == 0 ? 4 : entries.Max(e => e.Info.Name.Length));
        foreach (var (info, file, _) in entries)
            w.WriteLine($"  {info.Name.PadRight(nameWidth)}  {info.Dtype.HeaderName(),-7} {TensorShape.Format(info.Shape),-16} {ShardSize.Format(info.ByteLength),10}  {file}"
                        + (change(info.Name) is { } c ? "  " + c : ""));
        var byDtype = entries.GroupBy(e => e.Info.Dtype).Select(g => $"{g.Key.HeaderName()} {g.Count()}");
        long elements = entries.Sum(e => e.Info.ElementCount);
        w.WriteLine($"{entries.Count} tensors ({string.Join(", ", byDtype)}), {elements.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} parameters, {ShardSize.Format(entries.Sum(e => e.Info.ByteLength))}");
        var stacks = LayerLayout.Infer(entries.Select(e => e.Info.Name)).Stacks;
        if (stacks.Count > 0) w.WriteLine("layer stacks: " + string.Join("; ", stacks));
    }

    private static JsonObject ToJson(string target, List<(TensorInfo Info, string File, IReadOnlyDictionary<string, string> Metadata)> entries,
        Func<string, string?> change)
    {
        var files = new JsonObject();
        foreach (var group in entries.GroupBy(e => e.File))
        {
            var metadata = new JsonObject();
            foreach (var (k, v) in group.First().Metadata.OrderBy(m => m.Key, StringComparer.Ordinal)) metadata[k] = v;
            files[group.Key] = new JsonObject { ["tensors"] = group.Count(), ["metadata"] = metadata };
        }
        return new JsonObject
        {
            ["path"] = target,
            ["files"] = files,
            ["tensor_count"] = entries.Count,
            ["parameter_count"] = entries.Sum(e => e.Info.ElementCount),
            ["total_bytes"] = entries.Sum(e => e.Info.ByteLength),
            ["layer_stacks"] = new JsonArray(LayerLayout.Infer(entries.Select(e => e.Info.Name)).Stacks.Select(st => (JsonNode)new JsonObject
            {
                ["prefix"] = st.Prefix,
                ["layers"] = st.LayerCount,
                ["tensors"] = st.TensorCount,
            }).ToArray()),
            ["tensors"] = new JsonArray(entries.Select(e => (JsonNode)new JsonObject
            {
                ["name"] = e.Info.Name,
                ["dtype"] = e.Info.Dtype.HeaderName(),
                ["shape"] = new JsonArray(e.Info.Shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
                ["bytes"] = e.Info.ByteLength,
                ["file"] = e.File,
                ["adapter_change"] = change(e.Info.Name),
            }).ToArray()),
        };
    }
}
