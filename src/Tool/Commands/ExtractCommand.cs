using System.CommandLine;
using System.Globalization;
using DotnetMerge.Deltas;
using DotnetMerge.Numerics;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge extract --base B --model F -o TV [--dtype D] [--rank R]</c>: writes a task vector.</summary>
public static class ExtractCommand
{
    public static Command Create(ToolConsole console)
    {
        var command = new Command("extract",
            "Write the task vector of a fine-tune (fine-tune − base) as a safetensors delta model that records its base's fingerprint. " +
            "Non-float tensors are skipped.");
        var baseModel = new Option<string>("--base") { Description = "The base (pre-trained) model: a directory or a Hugging Face id (org/name[@rev]).", Required = true };
        var model = new Option<string>("--model") { Description = "The fine-tuned model: a directory, a Hugging Face id, or base+adapter (the task vector of a LoRA adapter).", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Directory for the task vector (created; must be empty unless --force).", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "Storage dtype of the deltas: float32 (default), bfloat16 or float16 (half the size, coarser).", DefaultValueFactory = _ => "float32" };
        var rank = new Option<int?>("--rank") { Description = "Store each 2-D delta as two rank-R factors (NAME.lora_A, NAME.lora_B) by truncated SVD; prints the relative error." };
        var options = new CommonOptions();
        foreach (var o in new Option[] { baseModel, model, output, dtype, rank, options.OutShardSize, options.Force, options.AllowCrimes }) command.Options.Add(o);
        options.AddTo(command, mergeOptions: false);
        command.SetAction((result, ct) =>
        {
            var verbosity = options.GetVerbosity(result);
            return Cli.Guard(console, verbosity, async () =>
            {
                var name = result.GetValue(dtype)!;
                if (!DtypeInfo.TryFromTorchName(name, out var storage) || storage is not (Dtype.F32 or Dtype.BF16 or Dtype.F16))
                    throw new ArgumentException($"--dtype '{name}': use float32, bfloat16 or float16");
                var extract = new ExtractOptions { Dtype = storage, Rank = result.GetValue(rank), Merge = options.GetMergeOptions(result) };
                var reporter = new ProgressReporter(console, verbosity, !result.GetValue(options.NoProgress));
                var tv = await reporter.RunAsync(p => TaskVector.ExtractAsync(result.GetValue(baseModel)!, result.GetValue(model)!, result.GetValue(output)!, extract, p, ct));
                if (verbosity >= Verbosity.Minimal)
                {
                    if (verbosity >= Verbosity.Detailed || tv.FactoredCount > 0)
                        foreach (var e in tv.Errors.Where(e => e.Rank > 0 || verbosity >= Verbosity.Detailed))
                            console.Out.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0,-60} rank {1,4}  relative error {2:G4}", e.Name, e.Rank, e.RelativeError));
                    if (tv.OverallRelativeError is { } overall)
                        console.Out.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0} of {1} tensors stored as rank-{2} factors; relative Frobenius error overall {3:G4}",
                            tv.FactoredCount, tv.TensorCount, extract.Rank, overall));
                    if (tv.Skipped.Count > 0) console.Out.WriteLine($"skipped {tv.Skipped.Count} non-float tensor(s): {string.Join(", ", tv.Skipped)}");
                    console.Out.WriteLine($"task vector of {tv.TensorCount} tensors written to {tv.OutputDirectory} (base fingerprint {tv.BaseFingerprint[..16]}…)");
                }
                return ExitCodes.Success;
            }, ct);
        });
        return command;
    }
}
