using System.CommandLine;
using System.Globalization;
using DotnetMerge.Pickle;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge convert IN OUT</c>: a PyTorch <c>.bin</c> model directory to safetensors.</summary>
public static class ConvertCommand
{
    public static Command Create(ToolConsole console)
    {
        var command = new Command("convert",
            "Write a PyTorch .bin model (pytorch_model.bin, or the shards of pytorch_model.bin.index.json) as safetensors: same tensor names and dtypes, " +
            "config, tokenizer and the other top-level files copied. The pickle is read with a weights-only allowlist and never executed. " +
            "Not needed to merge: every command reads a .bin model directly (docs/pytorch-bin.md).");
        var input = new Argument<string>("input") { Description = "The model directory with the .bin weights." };
        var output = new Argument<string>("output") { Description = "Directory for the safetensors model (created; must be empty unless --force)." };
        var options = new CommonOptions();
        command.Arguments.Add(input);
        command.Arguments.Add(output);
        foreach (var o in new Option[] { options.OutShardSize, options.Force }) command.Options.Add(o);
        options.AddTo(command, mergeOptions: false);
        command.SetAction((result, ct) =>
        {
            var verbosity = options.GetVerbosity(result);
            return Cli.Guard(console, verbosity, async () =>
            {
                long maxShard = ShardSize.Parse(result.GetValue(options.OutShardSize) ?? "5B");
                var r = await TorchBinConverter.ConvertAsync(result.GetValue(input)!, result.GetValue(output)!, result.GetValue(options.Force), maxShard, ct);
                if (verbosity >= Verbosity.Minimal)
                    console.Out.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0} tensors ({1:N0} bytes) in {2} shard(s) written to {3}; copied {4}",
                        r.TensorCount, r.TensorBytes, r.ShardCount, r.OutputDirectory, r.CopiedFiles.Count == 0 ? "no other file" : string.Join(", ", r.CopiedFiles)));
                return ExitCodes.Success;
            }, ct);
        });
        return command;
    }
}
