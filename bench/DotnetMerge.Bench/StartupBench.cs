using System.Globalization;

namespace DotnetMerge.Bench;

/// <summary>The <c>tiny</c> figure: the fixed cost of a whole merge (process start, JIT, checks, planning, a few hundred
/// KB of tensors, the model files), on the models of <c>dotnet merge demo</c> (4 x 528 KB), next to <c>--version</c>
/// (the runtime's start and little else). Each round runs every tool once, merge then --version, so a busy spell of a
/// shared machine slows one run of each; the medians of wall and CPU (user + system) time are printed as a table, after a
/// check that every CLI wrote the same bytes.</summary>
internal static class StartupBench
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(IReadOnlyList<string> tools, int repeat, string workDir, TextWriter log)
    {
        if (repeat < 1) throw new ArgumentException("--repeat must be at least 1");
        foreach (var tool in tools)
            if (!File.Exists(tool)) throw new ArgumentException($"the CLI is not built at {tool} (pass --tool PATH/dotnet-merge.dll)");
        string root = Path.Combine(workDir, "tiny");
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        Directory.CreateDirectory(root);
        var demo = ProcessTimer.Run("dotnet", ["exec", tools[0], "demo", "d", "--no-progress"], root);
        if (demo.ExitCode != 0) throw new InvalidOperationException($"demo failed (exit {demo.ExitCode}):\n{demo.Output}");

        string loadBefore = ProcessTimer.Shell("uptime");
        var merges = tools.Select(_ => new List<Measurement>()).ToArray();
        var versions = tools.Select(_ => new List<Measurement>()).ToArray();
        for (int r = 0; r < repeat; r++)
        {
            for (int t = 0; t < tools.Count; t++)
            {
                var m = ProcessTimer.Run("dotnet", ["exec", tools[t], "d/merge.yaml", Output(t), "--force", "--no-progress"], root);
                if (m.ExitCode != 0) throw new InvalidOperationException($"the tiny merge failed (exit {m.ExitCode}):\n{m.Output}");
                merges[t].Add(m);
                versions[t].Add(ProcessTimer.Run("dotnet", ["exec", tools[t], "--version"], root));
            }
        }
        // Every CLI wrote the same model (the card's title names the output directory, so the card is left out).
        foreach (var file in Directory.GetFiles(Path.Combine(root, Output(0))).Select(Path.GetFileName).Where(f => f != "README.md"))
            for (int t = 1; t < tools.Count; t++)
                if (!File.ReadAllBytes(Path.Combine(root, Output(0), file!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(root, Output(t), file!))))
                    throw new InvalidOperationException($"{tools[t]} wrote a different {file} than {tools[0]}");
        log.WriteLine($"| tool | tiny merge wall | tiny merge CPU | `--version` wall | `--version` CPU |");
        log.WriteLine("|---|---:|---:|---:|---:|");
        for (int t = 0; t < tools.Count; t++)
            log.WriteLine(string.Format(Inv, "| `{0}` | {1:F3} s | {2:F3} s | {3:F3} s | {4:F3} s |", Path.GetRelativePath(Environment.CurrentDirectory, tools[t]),
                Median(merges[t].Select(m => m.Seconds)), Median(merges[t].Select(m => m.CpuSeconds)),
                Median(versions[t].Select(m => m.Seconds)), Median(versions[t].Select(m => m.CpuSeconds))));
        log.WriteLine(string.Format(Inv, "medians of {0} rounds; demo models (4 x 528 KB, task_arithmetic, bf16). Load before: `{1}`; after: `{2}`",
            repeat, loadBefore, ProcessTimer.Shell("uptime")));
        return 0;
    }

    private static string Output(int tool) => "out" + tool.ToString(Inv);

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
