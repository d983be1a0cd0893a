using System.Globalization;
using DotnetMerge.Bench;

// dotnet DotnetMerge.Bench.dll [run] [--size 1.5GB] [--models 3] [--threads 1,2,all] [--scenarios copy,linear,...]
//                                     [--work-dir DIR] [--tool PATH/dotnet-merge.dll] [--repeat N] [--markdown FILE]
// dotnet DotnetMerge.Bench.dll gen [--size ..] [--models ..] [--work-dir ..]
// dotnet DotnetMerge.Bench.dll micro [BenchmarkDotNet arguments, e.g. --filter *Bf16*]
// dotnet DotnetMerge.Bench.dll tiny [--tool A.dll[,B.dll...]] [--repeat 9] [--work-dir DIR]   (start-up: a merge of the demo models)
try
{
    if (args.Length > 0 && args[0] == "micro") return Micro.Run(args[1..]);
    if (args.Length > 0 && args[0] == "tiny")
    {
        var tiny = BenchOptions.Parse(args[1..]);
        var tools = tiny.Tool is null ? [Harness.FindTool()] : tiny.Tool.Split(',').Select(Path.GetFullPath).ToArray();
        return StartupBench.Run(tools, args.Contains("--repeat") ? tiny.Repeat : 9, tiny.WorkDir, Console.Out);
    }
    bool generateOnly = args.Length > 0 && args[0] == "gen";
    var rest = args.Length > 0 && args[0] is "run" or "gen" ? args[1..] : args;
    var options = BenchOptions.Parse(rest);
    return await Harness.RunAsync(options, generateOnly, Console.Out);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine("error: " + e.Message);
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

namespace DotnetMerge.Bench
{
    internal sealed record BenchOptions(long SizeBytes, int Models, string[] Threads, string[] Scenarios, string WorkDir,
        string? Tool, int Repeat, string? Markdown, string? OutDir, int? Vocab = null, int? Hidden = null, int? Layers = null)
    {
        public const string Usage =
            "usage: DotnetMerge.Bench [run|gen|micro|tiny] [--size 1.5GB] [--models 3] [--threads 1,2,all] " +
            "[--scenarios " + "copy,linear,task_arithmetic,ties,dare_ties,slerp,model_stock,lora,union] [--work-dir /tmp/dotnet-merge-bench] " +
            "[--tool src/Tool/bin/Release/net10.0/dotnet-merge.dll] [--repeat 1] [--markdown FILE] [--out-dir DIR (where merged models go; default under --work-dir)] " +
            "[--vocab N] [--hidden H (a multiple of 64)] [--layers L] (a fixed shape instead of --size)";

        public static BenchOptions Parse(string[] args)
        {
            var o = new BenchOptions((long)1.5e9, 3, ["1", "2", "all"], DotnetMerge.Bench.Scenarios.All,
                Path.Combine(Path.GetTempPath(), "dotnet-merge-bench"), null, 1, null, null);
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                string[] List() => Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                o = args[i] switch
                {
                    "--size" => o with { SizeBytes = DotnetMerge.Safetensors.ShardSize.Parse(Value()) },
                    "--models" => o with { Models = int.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--threads" => o with { Threads = List() },
                    "--scenarios" => o with { Scenarios = List() },
                    "--work-dir" => o with { WorkDir = Path.GetFullPath(Value()) },
                    "--tool" => o with { Tool = Value() },
                    "--repeat" => o with { Repeat = int.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--markdown" => o with { Markdown = Path.GetFullPath(Value()) },
                    "--out-dir" => o with { OutDir = Path.GetFullPath(Value()) },
                    "--vocab" => o with { Vocab = Positive(args[i], Value(), min: 16) },
                    "--hidden" => o with { Hidden = Positive(args[i], Value(), min: 64) },
                    "--layers" => o with { Layers = Positive(args[i], Value(), min: 1) },
                    _ => throw new ArgumentException($"unknown option '{args[i]}'"),
                };
            }
            if (o.Models < 3) throw new ArgumentException("--models must be at least 3 (a base and two fine-tunes)");
            foreach (var s in o.Scenarios)
                if (!DotnetMerge.Bench.Scenarios.All.Contains(s)) throw new ArgumentException($"unknown scenario '{s}'");
            if (o.Hidden is { } h && h % 64 != 0) throw new ArgumentException($"--hidden {h} is not a multiple of 64 (the head size)");
            return o;
        }

        private static int Positive(string option, string text, int min)
            => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v >= min
                ? v : throw new ArgumentException($"{option} {text}: expected a whole number of at least {min}");

        /// <summary>The models' shape: <see cref="LlamaSpec.OfSize"/>(--size), or the fixed shape that --vocab, --hidden or
        /// --layers name (the rest as at the hidden size --size would give).</summary>
        public DotnetMerge.Demo.LlamaSpec Spec()
        {
            var sized = DotnetMerge.Demo.LlamaSpec.OfSize(SizeBytes);
            if (Vocab is null && Hidden is null && Layers is null) return sized;
            return DotnetMerge.Demo.LlamaSpec.OfHidden(Hidden ?? sized.Hidden, Layers ?? sized.Layers, Vocab ?? sized.Vocab);
        }

        /// <summary>Thread counts to run, "all" resolved to the core count, duplicates dropped.</summary>
        public int[] ThreadCounts() => Threads
            .Select(t => t == "all" ? Environment.ProcessorCount : int.Parse(t, CultureInfo.InvariantCulture))
            .Distinct().ToArray();
    }
}
