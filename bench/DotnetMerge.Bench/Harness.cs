using System.Globalization;
using System.Text;
using DotnetMerge.Demo;
using DotnetMerge.Numerics;

namespace DotnetMerge.Bench;

/// <summary>One timed scenario at one thread count.</summary>
internal sealed record Row(string Scenario, int Threads, int ModelsRead, double Seconds, double CpuSeconds, long PeakRss, long RssBound, double? CopyFloor, double CatSeconds);

/// <summary>Generates (or reuses) the models, warms the page cache, times raw <c>cat</c> of the inputs, then runs every
/// scenario through the real CLI as a separate process and prints a markdown table.</summary>
internal static class Harness
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(BenchOptions o, bool generateOnly, TextWriter log)
    {
        var spec = o.Spec();
        string shape = o.Vocab is null && o.Hidden is null && o.Layers is null ? ""
            : string.Format(Inv, "-v{0}-h{1}-l{2}", spec.Vocab, spec.Hidden, spec.Layers);
        string label = string.Format(Inv, "llama-{0:0.##}GB{1}-x{2}", spec.TotalBytes / 1e9, shape, o.Models);
        string root = Path.Combine(o.WorkDir, label);
        string modelsDir = Path.Combine(root, "models");
        Directory.CreateDirectory(root);
        log.WriteLine(string.Format(Inv, "models: {0} x {1:F2} GB bf16 (layers {2}, hidden {3}, intermediate {4}, vocab {5}) in {6}",
            o.Models, spec.TotalBytes / 1e9, spec.Layers, spec.Hidden, spec.Intermediate, spec.Vocab, modelsDir));
        await ModelGenerator.EnsureAsync(modelsDir, spec, o.Models, log);
        if (o.Scenarios.Contains("lora")) await ModelGenerator.EnsureAdaptersAsync(modelsDir, spec, o.Models, log);
        if (o.Scenarios.Contains("union")) ModelGenerator.EnsureVocabularies(modelsDir, spec, o.Models, log);
        if (generateOnly) return 0;

        string tool = o.Tool is { } given ? Path.GetFullPath(given) : FindTool();
        if (!File.Exists(tool)) throw new ArgumentException($"the CLI is not built at {tool} (run bench/run.sh, or pass --tool)");
        var names = ModelGenerator.Names(o.Models);
        var files = InputsOf(modelsDir, names, names.Length);
        long modelBytes = files.Sum(f => new FileInfo(f).Length) / o.Models;
        long largestTensor = spec.Tensors().Max(t => spec.Dtype.ByteCount(t.Shape.Aggregate(1L, (a, b) => a * b)));

        log.WriteLine("warming the page cache...");
        Cat(files);
        double catAll = Enumerable.Range(0, 3).Min(_ => Cat(files));
        double cat1 = catAll / o.Models;
        log.WriteLine(string.Format(Inv, "cat of all {0} inputs: {1:F2} s ({2:F2} GB/s)", o.Models, catAll, o.Models * modelBytes / 1e9 / catAll));

        string load = ProcessTimer.Shell("uptime");
        var rows = new List<Row>();
        string runDir = o.OutDir ?? Path.Combine(root, "runs");
        Directory.CreateDirectory(runDir);
        foreach (int threads in o.ThreadCounts())
        {
            var scenarios = o.Scenarios.Select(name => Scenarios.Create(name, names, spec.Layers)).ToArray();
            foreach (var scenario in scenarios) File.WriteAllText(Path.Combine(root, scenario.Name + ".yaml"), scenario.Yaml);
            var best = scenarios.Select(_ => (Seconds: double.MaxValue, Cpu: double.NaN, Rss: 0L)).ToArray();
            // Rounds, not runs in a row: each round runs every scenario once, so a slow spell of a shared machine
            // slows one run of each scenario rather than every run of one (which would skew the ratios).
            for (int r = 0; r < o.Repeat; r++)
            {
                for (int s = 0; s < scenarios.Length; s++)
                {
                    var scenario = scenarios[s];
                    string yaml = Path.Combine(root, scenario.Name + ".yaml");
                    Cat(InputsOf(modelsDir, names, scenario.ModelsRead)); // warm exactly what this scenario reads
                    string output = Path.Combine(runDir, "out");
                    var m = ProcessTimer.Run("dotnet", ["exec", tool, yaml, output, "--force", "--no-progress", "-v", "minimal",
                        "-j", threads.ToString(Inv)], root);
                    if (m.ExitCode != 0)
                        throw new InvalidOperationException($"{scenario.Name} failed (exit {m.ExitCode}):\n{m.Output}");
                    if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
                    ProcessTimer.Shell("sync");
                    var b = best[s];
                    best[s] = (Math.Min(b.Seconds, m.Seconds), m.Seconds < b.Seconds ? m.CpuSeconds : b.Cpu, Math.Max(b.Rss, m.PeakRssBytes));
                }
            }
            double? copy = null;
            for (int s = 0; s < scenarios.Length; s++)
            {
                var scenario = scenarios[s];
                if (scenario.Name == "copy") copy = best[s].Seconds;
                long bound = 2L * (scenario.ModelsRead + 1) * largestTensor + 300_000_000;
                var row = new Row(scenario.Name, threads, scenario.ModelsRead, best[s].Seconds, best[s].Cpu, best[s].Rss, bound,
                    copy is { } c ? c + (scenario.ModelsRead - 1) * cat1 : null, scenario.ModelsRead * cat1);
                rows.Add(row);
                log.WriteLine(FormatRow(row, modelBytes));
            }
        }

        var table = new StringBuilder();
        table.AppendLine(string.Format(Inv, "{0} x {1:F2} GB bf16 models ({2}), largest tensor {3:F0} MB; {4} CPUs; `{5}` before the runs; peak RSS via {6}.",
            o.Models, modelBytes / 1e9, label, largestTensor / 1e6, Environment.ProcessorCount, load,
            ProcessTimer.HasGnuTime ? "/usr/bin/time" : "/proc VmHWM sampling"));
        table.AppendLine("outputs written to " + runDir + " (" + ProcessTimer.Shell("df -h --output=fstype,source " + runDir + " | tail -1") + ")");
        table.AppendLine("the tool's " + ProcessTimer.Shell($"dotnet exec '{tool}' doctor | grep 'cpu kernels'"));
        table.AppendLine(string.Format(Inv, "raw `cat` of one model (warm cache): {0:F2} s ({1:F2} GB/s). Load after: `{2}`", cat1, modelBytes / 1e9 / cat1, ProcessTimer.Shell("uptime")));
        table.AppendLine();
        table.AppendLine(Header);
        table.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in rows) table.AppendLine(FormatRow(row, modelBytes));
        log.WriteLine();
        log.WriteLine(table.ToString());
        if (o.Markdown is not null) File.AppendAllText(o.Markdown, table + "\n");
        return 0;
    }

    private const string Header = "| scenario | threads | models read | seconds | CPU s | input GB/s | output GB/s | peak RSS MB | RSS bound MB | x copy floor | x cat |";

    private static string FormatRow(Row r, long modelBytes)
        => string.Format(Inv, "| {0} | {1} | {2} | {3:F2} | {10:F1} | {4:F2} | {5:F2} | {6:F0} | {7:F0} | {8} | {9:F2} |",
            r.Scenario, r.Threads, r.ModelsRead, r.Seconds, r.ModelsRead * modelBytes / 1e9 / r.Seconds, modelBytes / 1e9 / r.Seconds,
            r.PeakRss / 1e6, r.RssBound / 1e6, r.CopyFloor is { } f ? (r.Seconds / f).ToString("F2", Inv) : "-", r.Seconds / r.CatSeconds, r.CpuSeconds);

    /// <summary>Seconds of <c>cat FILES &gt; /dev/null</c>.</summary>
    private static double Cat(string[] files)
    {
        if (files.Length == 0) return 0;
        var m = ProcessTimer.Run("/bin/sh", ["-c", "cat \"$@\" > /dev/null", "cat", .. files], Environment.CurrentDirectory);
        return m.Seconds;
    }

    /// <summary>Every scenario reads the first <paramref name="count"/> models (base, ft1, ...).</summary>
    private static string[] InputsOf(string modelsDir, string[] names, int count)
        => names.Take(count).SelectMany(n => Directory.GetFiles(Path.Combine(modelsDir, n), "*.safetensors")).ToArray();

    internal static string FindTool()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "dotnet-merge.sln")))
                return Path.Combine(dir.FullName, "src", "Tool", "bin", "Release", "net10.0", "dotnet-merge.dll");
        throw new ArgumentException("cannot find the repository root (dotnet-merge.sln) above the bench binary; pass --tool");
    }
}
