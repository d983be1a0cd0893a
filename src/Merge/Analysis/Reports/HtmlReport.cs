using System.Globalization;
using System.Text;

namespace DotnetMerge.Analysis.Reports;

/// <summary>One chart of the report: a file-name-safe id, its SVG, and a sentence on how to read it.</summary>
public sealed record ReportFigure(string Id, string Svg, string HowToRead);

/// <summary>The self-contained HTML page of <c>analyze</c>: inline CSS and SVG, no script, no external font, image or
/// style sheet, so it opens offline and in any browser.</summary>
public static class HtmlReport
{
    /// <summary>The charts of a report, in page order.</summary>
    public static IReadOnlyList<ReportFigure> Figures(AnalysisReport report)
    {
        var figures = new List<ReportFigure>();
        var models = report.Models;
        var pairs = new List<(int I, int J)>();
        for (int i = 0; i < models.Count; i++) for (int j = i + 1; j < models.Count; j++) pairs.Add((i, j));
        string PairName((int I, int J) p) => Short(models[p.I]) + " × " + Short(models[p.J]);
        var xs = report.Layers.Select(l => (double)l.Layer).ToList();
        var layers = report.Layers.Select(l => l.Figures.Sums).ToList();
        List<ChartSeries> PerModel(Func<DeltaSums, int, double> f, string suffix = "", bool dashed = false)
            => models.Select((m, t) => new ChartSeries(Short(m) + suffix, layers.Select(s => f(s, t)).ToList(), dashed, t)).ToList();

        if (layers.Count > 0)
        {
            figures.Add(new("relative-norm", SvgCharts.LineChart("Task-vector norm relative to the base, per layer", "layer", "‖δ‖ / ‖base‖",
                    xs, PerModel((s, t) => s.RelativeNorm(t))),
                "Magnitude asymmetry: how far each fine-tune moved from the base in each layer. A line far above the others dominates a plain average; a spike marks a layer that one fine-tune changed much more than the rest (weight it down, or protect it)."));
            if (pairs.Count > 0)
            {
                figures.Add(new("sign-conflict", SvgCharts.LineChart("Sign conflicts per layer", "layer", "opposite signs / elements both change",
                        xs, pairs.Select(p => new ChartSeries(PairName(p), layers.Select(s => s.SignConflictRate(p.I, p.J)).ToList())).ToList(), 0, 1),
                    "Among the elements two fine-tunes both change, the share they push in opposite directions: what TIES votes on. 0.5 is what unrelated changes give; above it the fine-tunes fight, and averaging cancels both."));
                figures.Add(new("cosine", SvgCharts.LineChart("Cosine similarity of task vectors per layer", "layer", "cos(δᵢ, δⱼ)",
                        xs, pairs.Select(p => new ChartSeries(PairName(p), layers.Select(s => s.Cosine(p.I, p.J)).ToList())).ToList(), -1, 1),
                    "Interference: near 0 the fine-tunes changed unrelated directions (merging keeps both); near 1 they agree (redundant); below 0 they undo each other."));
            }
            if (report.Sparsifies)
                figures.Add(new("kept", SvgCharts.LineChart($"Delta mass kept by {report.Method}'s sparsification, per layer", "layer", "kept ‖δ‖² / ‖δ‖²",
                        xs, PerModel((s, t) => s.KeptFraction(t)), 0, 1),
                    "The share of each task vector's squared norm that survives the trim or drop at the configured density, before signs are elected and the rest is mixed. Low values mean the density throws away most of what that fine-tune learned there."));
            var retained = PerModel((s, t) => s.MethodRetained(t));
            if (report.MergedModel is not null) retained.AddRange(PerModel((s, t) => s.MergedRetained(t), ", merged", dashed: true));
            figures.Add(new("retained", SvgCharts.LineChart(report.MergedModel is null ? $"Share of each task vector the {report.Method} merge carries, per layer"
                        : "Share of each task vector the merge carries, per layer (solid: configured method, dashed: --merged model)",
                    "layer", "m·δ / ‖δ‖²", xs, retained),
                "The merged delta m (merge − base) projected on each input's task vector: 1 means the merge carries all of it, 0.5 half (a two-model average), 0 none. Computed by running the configured method in memory" +
                (report.MergedModel is null ? "." : ", and (dashed) from the merged model given with --merged.")));
        }
        if (pairs.Count > 0)
        {
            var names = models.Select(Short).ToList();
            figures.Add(new("cosine-matrix", SvgCharts.HeatMap("Cosine similarity of task vectors (whole model)", "model", "model", names, names,
                    Square(models.Count, report.Total.Sums.Cosine), -1, 1, "0.00"),
                "Each cell is the cosine between two fine-tunes' whole task vectors: red agree, blue oppose, white unrelated."));
            figures.Add(new("sign-conflict-matrix", SvgCharts.HeatMap("Sign-conflict rate (whole model)", "model", "model", names, names,
                    Square(models.Count, report.Total.Sums.SignConflictRate), 0, 1, "0.00"),
                "Each cell is the share of opposite signs among the elements both fine-tunes change; darker is more conflict."));
        }
        if (report.Groups.Count > 0)
        {
            var groupNorms = new double[models.Count, report.Groups.Count];
            for (int t = 0; t < models.Count; t++)
                for (int g = 0; g < report.Groups.Count; g++) groupNorms[t, g] = report.Groups[g].Sums.RelativeNorm(t);
            double max = groupNorms.Cast<double>().Where(double.IsFinite).DefaultIfEmpty(1).Max();
            figures.Add(new("group-norm", SvgCharts.HeatMap("Relative task-vector norm per tensor group", "tensor group", "model",
                    models.Select(Short).ToList(), report.Groups.Select(g => g.Part).ToList(), groupNorms, 0, max > 0 ? max : 1, "0.0000"),
                "Which parts of the model each fine-tune changed: embeddings and the LM head are the most sensitive to merging, so a large value there deserves a lower weight."));
        }
        return figures;
    }

    public static string Render(AnalysisReport report)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>dotnet-merge analyze: ")
            .Append(SvgCharts.Escape(report.Method)).Append("</title>\n<style>")
            .Append("body{font-family:sans-serif;margin:24px auto;max-width:1000px;color:#222;line-height:1.4}")
            .Append("table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}")
            .Append("td:first-child,th:first-child{text-align:left}figure{margin:24px 0}figcaption{color:#444;max-width:720px}.warn{color:#b2182b;font-weight:bold}")
            .Append("</style></head>\n<body>\n<h1>Merge analysis</h1>\n");
        html.Append("<p>Method <b>").Append(E(report.Method)).Append("</b> on base <b>").Append(E(report.BaseModel)).Append("</b>; sparsification: ")
            .Append(E(report.Sparsification)).Append(". ").Append(report.TensorsAnalyzed.ToString(CultureInfo.InvariantCulture))
            .Append(" tensors analysed (").Append(report.TensorsSkipped.ToString(CultureInfo.InvariantCulture)).Append(" copied or without a base tensor skipped), ")
            .Append(E(Safetensors.ShardSize.Format(report.BytesRead))).Append(" read. Task vectors δ = model − base; delta mass is measured as ")
            .Append(E(AnalysisReport.MassMeasure)).Append(".</p>\n");
        if (report.MergedModel is { } merged) html.Append("<p>Merged model compared: <b>").Append(E(merged)).Append("</b>.</p>\n");

        html.Append("<h2>Compatibility</h2>\n<table><tr><th>model</th><th>declared base</th><th>‖δ‖ / ‖base‖</th><th>kept by the method</th><th>carried by the merge</th>")
            .Append(report.MergedModel is null ? "" : "<th>retained by --merged</th>").Append("<th>verdict</th></tr>\n");
        for (int t = 0; t < report.Models.Count; t++)
        {
            var m = report.Summary[t];
            var s = report.Total.Sums;
            html.Append("<tr><td>").Append(E(m.Name)).Append("</td><td>").Append(E(m.DeclaredBases.Count == 0 ? "(none declared)" : string.Join(", ", m.DeclaredBases)))
                .Append("</td><td>").Append(N(m.RelativeNorm)).Append("</td><td>").Append(N(s.KeptFraction(t))).Append("</td><td>").Append(N(s.MethodRetained(t)))
                .Append("</td>").Append(report.MergedModel is null ? "" : "<td>" + N(s.MergedRetained(t)) + "</td>").Append("<td>")
                .Append(m.LikelyOtherBase ? "<span class=\"warn\">far from the base: probably not fine-tuned from it</span>" : "a fine-tune of this base")
                .Append("</td></tr>\n");
        }
        html.Append("</table>\n");
        var declared = report.Summary.Select(m => string.Join(",", m.DeclaredBases)).Where(d => d.Length > 0).Distinct().ToList();
        html.Append("<p>").Append(declared.Count > 1 ? "<span class=\"warn\">The inputs declare different base models</span>; task vectors of different bases do not add up."
            : declared.Count == 1 ? "Every input that declares a base model declares the same one." : "No input declares its base model in its model card.").Append("</p>\n");
        if (report.FarParts.Count == 0) html.Append("<p>No layer where one fine-tune moved twice as far as in its median layer.</p>\n");
        else
        {
            html.Append("<h3>Where one fine-tune moved far</h3>\n<p>Parts where a model's relative norm is at least ")
                .Append(N(FarPart.Threshold)).Append("× its median layer: candidates to weight down (or to take from one model only).</p>\n")
                .Append("<table><tr><th>part</th><th>model</th><th>‖δ‖ / ‖base‖</th><th>× median layer</th></tr>\n");
            foreach (var f in report.FarParts)
                html.Append("<tr><td>").Append(E(f.Part)).Append("</td><td>").Append(E(f.Model)).Append("</td><td>").Append(N(f.RelativeNorm))
                    .Append("</td><td>").Append(N(f.Ratio)).Append("</td></tr>\n");
            html.Append("</table>\n");
        }

        html.Append("<h2>Figures</h2>\n");
        foreach (var figure in Figures(report))
            html.Append("<figure id=\"").Append(figure.Id).Append("\">").Append(figure.Svg).Append("<figcaption>").Append(E(figure.HowToRead)).Append("</figcaption></figure>\n");

        html.Append("<h2>Per tensor group</h2>\n<table><tr><th>group</th><th>elements</th>");
        foreach (var m in report.Models) html.Append("<th>‖δ‖/‖base‖ ").Append(E(Short(m))).Append("</th>");
        html.Append("</tr>\n");
        foreach (var g in report.Groups)
        {
            html.Append("<tr><td>").Append(E(g.Part)).Append("</td><td>").Append(g.Sums.Elements.ToString("N0", CultureInfo.InvariantCulture)).Append("</td>");
            for (int t = 0; t < report.Models.Count; t++) html.Append("<td>").Append(N(g.Sums.RelativeNorm(t))).Append("</td>");
            html.Append("</tr>\n");
        }
        html.Append("</table>\n<p>The same numbers, per layer and per group, are written as JSON with <code>--json FILE</code>.</p>\n</body></html>\n");
        return html.ToString();
    }

    /// <summary>A model's short name for legends: its last path segment.</summary>
    public static string Short(string model)
    {
        var trimmed = model.TrimEnd('/', '\\');
        int slash = trimmed.LastIndexOfAny(['/', '\\']);
        return slash >= 0 && slash < trimmed.Length - 1 ? trimmed[(slash + 1)..] : trimmed;
    }

    private static double[,] Square(int n, Func<int, int, double> value)
    {
        var m = new double[n, n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) m[i, j] = value(i, j);
        return m;
    }

    private static string E(string text) => SvgCharts.Escape(text);

    private static string N(double v) => double.IsFinite(v) ? v.ToString("0.0000", CultureInfo.InvariantCulture) : "n/a";
}
