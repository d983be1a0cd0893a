using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DotnetMerge.Analysis;
using DotnetMerge.Analysis.Reports;
using DotnetMerge.Engine;
using DotnetMerge.Kernels;
using DotnetMerge.Planning;
using DotnetMerge.Safetensors;
using DotnetMerge.Tool.Rendering;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge analyze CONFIG [-o report.html] [--json FILE] [--svg DIR] [--png DIR] [--merged OUT]</c>: reads the
/// definition's inputs once and reports how their task vectors interfere (magnitude, cosine, sign conflicts, what the
/// method keeps), without writing a model.</summary>
public static class AnalyzeCommand
{
    public const string DefaultReport = "analysis.html";

    public static Command Create(ToolConsole console)
    {
        var command = new Command("analyze",
            "See why a merge works or fails before running it: reads the definition's inputs once (bounded memory, all cores, no model written) and reports, " +
            "per layer and per tensor group, each fine-tune's task-vector norm relative to the base, the pairwise cosine and sign-conflict rate of the task " +
            "vectors, and how much of each the configured method keeps, as a self-contained HTML page (charts in inline SVG) and JSON.");
        var config = new Argument<FileInfo>("config") { Description = "The merge definition (mergekit YAML, as for run); it must name a base_model." };
        var report = new Option<FileInfo?>("--output", "-o") { Description = $"The HTML report to write (default: {DefaultReport} unless --json, --svg or --png is given)." };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the same numbers as JSON to FILE, for scripts." };
        var svg = new Option<DirectoryInfo?>("--svg") { Description = "Also write each chart as a standalone SVG file into DIR (for slides and documents)." };
        var png = new Option<DirectoryInfo?>("--png")
        {
            Description = "Also write each chart as a PNG file into DIR, drawn from the same SVG at 2x its size (linux-x64 only: the renderer's native library is carried " +
                "for it alone; elsewhere this fails with DMRG0963, use --svg).",
        };
        var merged = new Option<DirectoryInfo?>("--merged")
        {
            Description = "A model merged from this definition (run's OUTPUT): adds how much of each input's task vector it retains, per layer.",
        };
        var options = new CommonOptions();
        command.Arguments.Add(config);
        command.Options.Add(report);
        command.Options.Add(json);
        command.Options.Add(svg);
        command.Options.Add(png);
        command.Options.Add(merged);
        options.AddTo(command);
        command.SetAction((result, ct) =>
        {
            var verbosity = options.GetVerbosity(result);
            return Cli.Guard(console, verbosity, () =>
            {
                var mergeOptions = options.GetMergeOptions(result, console, reportDevice: false);
                bool force = result.GetValue(options.Force);
                var jsonPath = result.GetValue(json)?.FullName;
                var svgDirectory = result.GetValue(svg)?.FullName;
                var pngDirectory = result.GetValue(png)?.FullName;
                var htmlPath = result.GetValue(report)?.FullName
                    ?? (jsonPath is null && svgDirectory is null && pngDirectory is null ? Path.GetFullPath(DefaultReport) : null);
                // Every output location is checked before the inputs are read.
                foreach (var file in new[] { htmlPath, jsonPath }.OfType<string>()) ReportFiles.CheckTarget(file, force);
                if (svgDirectory is not null) ReportFiles.CheckDirectory(svgDirectory, force);
                if (pngDirectory is not null) ReportFiles.CheckDirectory(pngDirectory, force);
                var renderer = pngDirectory is null ? null : PngRenderer.Open(); // a renderer that cannot load fails before the inputs are read

                var graph = MultiStageRunner.LoadStages(result.GetValue(config)!.FullName, mergeOptions.WorkingDirectory, out var diagnostics,
                    result.GetValue(options.AllowUnknownKeys), ct);
                Cli.PrintDiagnostics(console, diagnostics, verbosity);
                var resolved = Hub.HubPrecheck.Cancellable(mergeOptions, ct);
                if (graph.Stages.Any(s => Hub.HubPrecheck.Needed(s.Definition, resolved)))
                    using (StagePlanner.Plan(graph, Hub.HubPrecheck.ForChecking(resolved, ct))) { } // hub models: every check on headers before weights download
                using var multi = StagePlanner.Plan(graph, resolved);
                foreach (var w in multi.Warnings) console.Err.WriteLine(w);
                var plan = multi.Final;
                if (verbosity >= Verbosity.Normal)
                    console.Err.WriteLine($"analyzing {plan.Jobs.Count} tensors of {plan.Models.Count} models ({ShardSize.Format(plan.BytesToRead)} to read)...");
                var clock = Stopwatch.StartNew();
                var last = TimeSpan.Zero;
                var analysis = MergeAnalysis.Run(plan, new AnalysisOptions
                {
                    MergedDirectory = result.GetValue(merged)?.FullName,
                    Settings = new ExecutionSettings(mergeOptions.Threads),
                }, (tensor, done, total, read, toRead) =>
                {
                    if (verbosity >= Verbosity.Detailed) console.Err.WriteLine($"  [{done}/{total}] {tensor}");
                    else if (verbosity >= Verbosity.Normal && (done == total || clock.Elapsed - last >= TimeSpan.FromSeconds(2)))
                    {
                        last = clock.Elapsed;
                        double rate = read / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
                        var eta = rate > 0 ? TimeSpan.FromSeconds((toRead - read) / rate) : TimeSpan.Zero;
                        console.Err.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0}/{1} tensors, {2} of {3} read, {4}/s, ETA {5:hh\\:mm\\:ss}",
                            done, total, ShardSize.Format(read), ShardSize.Format(toRead), ShardSize.Format((long)rate), eta));
                    }
                }, ct);
                ct.ThrowIfCancellationRequested();
                if (htmlPath is not null) ReportFiles.Write(htmlPath, force, stream => { using var w = new StreamWriter(stream); w.Write(HtmlReport.Render(analysis)); });
                if (jsonPath is not null) ReportFiles.Write(jsonPath, force, stream => JsonReport.Write(analysis, stream));
                var figures = HtmlReport.Figures(analysis);
                if (svgDirectory is not null) ReportFiles.WriteFigures(svgDirectory, force, figures);
                if (pngDirectory is not null) ReportFiles.WritePngFigures(pngDirectory, force, figures, renderer!); // one drawing, two encodings
                if (verbosity >= Verbosity.Minimal)
                {
                    foreach (var path in new[] { htmlPath, jsonPath, svgDirectory, pngDirectory }.OfType<string>()) console.Out.WriteLine($"wrote {path}");
                    foreach (var m in analysis.Summary)
                        console.Out.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0}: ||delta||/||base|| = {1:0.0000}{2}", m.Name, m.RelativeNorm,
                            m.LikelyOtherBase ? " (far from the base: probably not fine-tuned from it)" : ""));
                    foreach (var f in analysis.FarParts)
                        console.Out.WriteLine(string.Format(CultureInfo.InvariantCulture, "  {0} moved far in {1}: {2:0.0}x its median layer", f.Model, f.Part, f.Ratio));
                }
                return Task.FromResult(ExitCodes.Success);
            }, ct);
        });
        return command;
    }
}
