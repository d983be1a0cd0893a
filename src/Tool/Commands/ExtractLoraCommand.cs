using System.CommandLine;
using System.Globalization;
using DotnetMerge.Deltas;
using DotnetMerge.Numerics;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge extract-lora --base B --model F --rank R -o ADAPTER</c> (mergekit-extract-lora): a PEFT LoRA
/// adapter whose <c>B+ADAPTER</c> approximates the fine-tune.</summary>
public static class ExtractLoraCommand
{
    public static Command Create(ToolConsole console)
    {
        var command = new Command("extract-lora",
            "Write a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors) that turns the base into (an approximation of) the fine-tune: " +
            "each changed 2-D weight's difference truncated by SVD to a rank-R pair; embeddings, the LM head, norms and other changed tensors saved in full " +
            "(modules_to_save). Loads in PEFT, and in dotnet-merge as 'BASE+ADAPTER'. Prints each module's rank and relative error.");
        var baseModel = new Option<string>("--base", "--base-model") { Description = "The base model: a directory or a Hugging Face id (org/name[@rev]).", Required = true };
        var model = new Option<string>("--model") { Description = "The fine-tuned model: a directory, a Hugging Face id, or base+adapter.", Required = true };
        var output = new Option<string>("--output", "-o", "--out-path") { Description = "Directory for the adapter (created; must be empty unless --force).", Required = true };
        var rank = new Option<int>("--rank", "--max-rank") { Description = "Rank of each LoRA pair, or the largest rank with --rank-energy (mergekit's default, 128).", DefaultValueFactory = _ => 128 };
        var energy = new Option<double?>("--rank-energy") { Description = "Per-module rank: the smallest rank whose singular values hold this share of the module's ‖ΔW‖² (0 < E ≤ 1, e.g. 0.95), at most --rank." };
        var epsilon = new Option<double>("--sv-epsilon") { Description = "Drop singular values at or below this (default 0: none)." };
        var noDistribute = new Option<bool>("--no-distribute-scale") { Description = "Put the singular values on lora_A alone (A = S·Vᵀ, B = U) instead of √S on both." };
        var distribute = new Option<bool>("--distribute-scale") { Description = "√S on both factors (the default).", Hidden = true };
        var embedLora = new Option<bool>("--embed-lora") { Description = "Extract the input embeddings as lora_embedding_A/B and the LM head as a LoRA pair, instead of saving both in full." };
        var saveModule = new Option<string[]>("--save-module") { Description = "A module (path or last name, e.g. lm_head) to save in full; repeat for more." };
        var exclude = new Option<string[]>("--exclude-regex", "-e") { Description = "Leave out modules whose path matches this regular expression; repeat for more." };
        var include = new Option<string[]>("--include-regex", "-i") { Description = "Extract only modules whose path matches this regular expression; repeat for more." };
        var skip = new Option<bool>("--skip-undecomposable") { Description = "Leave out changed tensors that cannot be a LoRA pair (norms, other shapes) instead of saving their modules in full; they are listed." };
        var dtype = new Option<string?>("--dtype") { Description = "Storage dtype of the adapter: float32, bfloat16 or float16 (default: the fine-tune's)." };
        var options = new CommonOptions();
        foreach (var o in new Option[] { baseModel, model, output, rank, energy, epsilon, noDistribute, distribute, embedLora, saveModule, exclude, include, skip, dtype, options.Force, options.AllowCrimes, options.NoModelCard, options.Offline })
            command.Options.Add(o);
        options.AddTo(command, mergeOptions: false);
        command.SetAction((result, ct) =>
        {
            var verbosity = options.GetVerbosity(result);
            return Cli.Guard(console, verbosity, async () =>
            {
                Dtype? storage = null;
                if (result.GetValue(dtype) is { } name)
                {
                    if (!DtypeInfo.TryFromTorchName(name, out var d) || d is not (Dtype.F32 or Dtype.BF16 or Dtype.F16))
                        throw new ArgumentException($"--dtype '{name}': use float32, bfloat16 or float16");
                    storage = d;
                }
                var extract = new LoraExtractionOptions
                {
                    MaxRank = result.GetValue(rank), RankEnergy = result.GetValue(energy), SvEpsilon = result.GetValue(epsilon),
                    DistributeScale = !result.GetValue(noDistribute), EmbedLora = result.GetValue(embedLora),
                    SaveModules = result.GetValue(saveModule) ?? [], Exclude = result.GetValue(exclude) ?? [], Include = result.GetValue(include) ?? [],
                    SkipUndecomposable = result.GetValue(skip), Dtype = storage, Merge = options.GetMergeOptions(result),
                };
                var reporter = new ProgressReporter(console, verbosity, !result.GetValue(options.NoProgress));
                var lora = await reporter.RunAsync(p => LoraExtraction.ExtractAsync(result.GetValue(baseModel)!, result.GetValue(model)!, result.GetValue(output)!, extract, p, ct));
                if (verbosity >= Verbosity.Minimal)
                {
                    var inv = CultureInfo.InvariantCulture;
                    foreach (var m in lora.Modules.Where(m => verbosity >= Verbosity.Detailed || m.Kind != ExtractedKind.Lora))
                        console.Out.WriteLine(string.Format(inv, "  {0,-60} {1,-15} {2}", m.Module, m.Kind switch
                        {
                            ExtractedKind.Lora => $"rank {m.Rank}", ExtractedKind.EmbeddingLora => $"embedding r {m.Rank}", ExtractedKind.Full => "saved in full", ExtractedKind.BiasDelta => "bias delta",
                            _ => "LEFT OUT",
                        }, m.Kind is ExtractedKind.Skipped or ExtractedKind.Full ? m.Note : $"relative error {m.RelativeError:G4}"));
                    int pairs = lora.Modules.Count(m => m.Kind is ExtractedKind.Lora or ExtractedKind.EmbeddingLora);
                    int full = lora.Modules.Count(m => m.Kind == ExtractedKind.Full), left = lora.Modules.Count(m => m.Kind == ExtractedKind.Skipped);
                    int biases = lora.Modules.Count(m => m.Kind == ExtractedKind.BiasDelta);
                    console.Out.WriteLine(string.Format(inv, "adapter written to {0}: {1} LoRA pairs (rank ≤ {2}), {3} bias deltas, {4} tensors in full, {5} left out, {6} unchanged; relative Frobenius error overall {7:G4}",
                        lora.OutputDirectory, pairs, lora.MaxRealizedRank, biases, full, left, lora.UnchangedTensors, lora.OverallRelativeError));
                    if (left > 0) console.Err.WriteLine($"warning: {left} changed tensor(s) are not in the adapter (listed above): base+adapter will not have those changes");
                }
                return ExitCodes.Success;
            }, ct);
        });
        return command;
    }
}
