using System.CommandLine;
using System.Globalization;
using DotnetMerge.Moe;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge moe CONFIG OUT</c> (mergekit-moe): a sparse mixture of experts from dense fine-tunes of one base.</summary>
public static class MoeCommand
{
    public static Command Create(ToolConsole console)
    {
        var command = new Command("moe",
            "Build a sparse mixture-of-experts model from dense fine-tunes of one base (mergekit-moe's YAML): attention, norms, embeddings and head " +
            "from base_model, each layer's MLP replaced by a router and one copy of each expert's MLP. Writes Mixtral (MixtralForCausalLM) or, " +
            "with one shared expert, Qwen2-MoE (Qwen2MoeForCausalLM), or with architecture: deepseek, DeepSeek-MoE (DeepseekForCausalLM); a qwen3 base makes " +
            "Qwen3-MoE (Qwen3MoeForCausalLM). Models may be model+adapter (or {model, lora}): the LoRA-adapted tensors are used. " +
            "Gate modes: hidden/hidden_avg (the base's hidden states on the prompts, a CPU forward pass), " +
            "cheap_embed (the prompts' token embeddings), random, uniform_random. See docs/moe.md.");
        var config = new Argument<string>("config") { Description = "The moe config (YAML: base_model, experts with source_model and prompts, gate_mode, ...)." };
        var output = new Argument<string>("output") { Description = "Directory for the MoE model (created; must be empty unless --force)." };
        var identical = new Option<bool>("--i-understand-this-is-not-useful-without-training")
        {
            Description = "Allow every expert to be the same model (the MoE then computes what that model computes until it is trained).",
        };
        var options = new CommonOptions();
        options.Seed.Description = "Seed of the random gate modes and of noise_scale (default 0): the same seed gives the same routers on any machine.";
        options.AllowCrimes.Description = "Apply a LoRA adapter whose base_model_name_or_path names another model than the one it is added to (a warning instead of an error).";
        foreach (var o in new Option[] { options.OutShardSize, options.Force, options.Seed, options.NoCopyTokenizer, options.Offline, options.AllowCrimes, identical })
            command.Options.Add(o);
        options.AddTo(command, mergeOptions: false);
        command.Arguments.Add(config);
        command.Arguments.Add(output);
        command.SetAction((result, ct) =>
        {
            var verbosity = options.GetVerbosity(result);
            return Cli.Guard(console, verbosity, async () =>
            {
                var merge = options.GetMergeOptions(result);
                var (moe, warnings) = MoeConfigReader.Load(result.GetValue(config)!, result.GetValue(identical), ct);
                Cli.PrintDiagnostics(console, warnings, verbosity);
                var reporter = new ProgressReporter(console, verbosity, !result.GetValue(options.NoProgress));
                var r = await reporter.RunAsync(p => MoeBuilder.BuildAsync(moe, result.GetValue(output)!, merge, p, ct));
                if (verbosity >= Verbosity.Minimal)
                    console.Out.WriteLine(string.Format(CultureInfo.InvariantCulture,
                        "{0} with {1} experts ({2} per token) over {3} layers, gate mode {4}: {5} tensors ({6:N0} bytes) in {7} shard(s) written to {8}",
                        MoeArchitectures.ClassName(r.Architecture), r.Experts, moe.ExpertsPerToken, r.Layers, MoeConfigReader.GateModeName(moe.GateMode),
                        r.TensorCount, r.TensorBytes, r.ShardCount, r.OutputDirectory));
                return ExitCodes.Success;
            }, ct);
        });
        return command;
    }
}
