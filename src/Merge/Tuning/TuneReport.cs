using System.Globalization;
using System.Net;
using System.Text;

namespace DotnetMerge.Tuning;

/// <summary>What a search leaves beside the best model: a section of the model card (the search, the best values, a table
/// of every trial, the chart), <c>tune-scores.svg</c> (score per trial, best so far) and <c>tune-report.html</c> (the same,
/// self-contained: inline SVG, no script, nothing fetched).</summary>
public static class TuneReport
{
    public const string ChartFile = "tune-scores.svg";
    public const string ReportFile = "tune-report.html";

    public static string CardSection(TuneResult r)
    {
        var sb = new StringBuilder();
        sb.Append("### Tuning\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"The searched values were found by `dotnet merge tune` ({r.Strategy}, {r.Trials.Count} trials): the best score, ");
        sb.Append(CultureInfo.InvariantCulture, $"{Trial.FormatScore(r.Best.Score)}, was trial {r.Best.Number}, with ");
        sb.Append(string.Join(", ", r.Labels.Select((l, i) => "`" + l + "` = " + SearchDimension.Display(r.Best.Values[i])))).Append(".\n\n");
        sb.Append("![score per trial](").Append(ChartFile).Append(")\n\n");
        sb.Append("| trial | ").Append(string.Join(" | ", r.Labels.Select(Cell))).Append(" | score |\n");
        sb.Append("|---:|").Append(string.Concat(r.Labels.Select(_ => "---:|"))).Append("---:|\n");
        foreach (var t in r.Trials)
        {
            bool best = t.Number == r.Best.Number;
            sb.Append(CultureInfo.InvariantCulture, $"| {(best ? "**" + t.Number + "**" : t.Number.ToString(CultureInfo.InvariantCulture))} | ");
            sb.Append(string.Join(" | ", t.Values.Select(v => Cell(SearchDimension.Display(v)))));
            sb.Append(" | ").Append(t.Score is null ? "invalid: " + Cell(t.Invalid ?? "") : best ? "**" + Trial.FormatScore(t.Score) + "**" : Trial.FormatScore(t.Score)).Append(" |\n");
        }
        return sb.ToString();
    }

    public static void WriteFiles(TuneResult r, string directory)
    {
        File.WriteAllText(Path.Combine(directory, ChartFile), Chart(r), new UTF8Encoding(false));
        File.WriteAllText(Path.Combine(directory, ReportFile), Html(r), new UTF8Encoding(false));
    }

    /// <summary>Score per trial (dots; invalid trials as crosses on the axis) and the best score so far (a step line).</summary>
    public static string Chart(TuneResult r)
    {
        const double W = 640, H = 320, L = 64, R = 16, T = 32, B = 48;
        var scored = r.Trials.Where(t => t.Score is { } s && double.IsFinite(s)).ToList();
        double lo = scored.Count > 0 ? scored.Min(t => t.Score!.Value) : 0, hi = scored.Count > 0 ? scored.Max(t => t.Score!.Value) : 1;
        if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
        int n = Math.Max(1, r.Trials.Count);
        double X(int number) => L + (n == 1 ? 0.5 : (number - 1) / (double)(n - 1)) * (W - L - R);
        double Y(double s) => T + (1 - (s - lo) / (hi - lo)) * (H - T - B);
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"12\">");
        sb.Append("<title>Score per trial</title><rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{W / 2}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">Score per trial ({Esc(r.Strategy)})</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{L}\" y1=\"{H - B}\" x2=\"{W - R}\" y2=\"{H - B}\" stroke=\"black\"/><line x1=\"{L}\" y1=\"{T}\" x2=\"{L}\" y2=\"{H - B}\" stroke=\"black\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{(L + W - R) / 2}\" y=\"{H - 10}\" text-anchor=\"middle\">trial</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"14\" y=\"{(T + H - B) / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {(T + H - B) / 2})\">score</text>");
        foreach (var (v, anchor) in new[] { (lo, "end"), (hi, "end") })
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{L - 6}\" y=\"{F(Y(v) + 4)}\" text-anchor=\"{anchor}\">{Esc(Trial.FormatScore(v))}</text>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{L}\" y=\"{H - B + 16}\" text-anchor=\"middle\">1</text><text x=\"{W - R}\" y=\"{H - B + 16}\" text-anchor=\"middle\">{n}</text>");
        var best = new StringBuilder();
        double? running = null;
        foreach (var t in r.Trials)
        {
            if (t.Score is { } s && double.IsFinite(s))
            {
                sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(X(t.Number))}\" cy=\"{F(Y(s))}\" r=\"3\" fill=\"{(t.Number == r.Best.Number ? "#d62728" : "#1f77b4")}\"><title>trial {t.Number}: {Esc(Trial.FormatScore(s))}</title></circle>");
                if (running is null || s > running)
                {
                    if (running is not null) best.Append(CultureInfo.InvariantCulture, $" L{F(X(t.Number))},{F(Y(running.Value))}");
                    best.Append(running is null ? "M" : " L").Append(F(X(t.Number))).Append(',').Append(F(Y(s)));
                    running = s;
                }
            }
            else sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(X(t.Number))}\" y=\"{H - B - 2}\" text-anchor=\"middle\" fill=\"gray\">×<title>trial {t.Number}: invalid</title></text>");
        }
        if (running is not null)
        {
            best.Append(CultureInfo.InvariantCulture, $" L{F(X(n))},{F(Y(running.Value))}");
            sb.Append("<path d=\"").Append(best).Append("\" fill=\"none\" stroke=\"#ff7f0e\" stroke-width=\"1.5\"><title>best so far</title></path>");
        }
        sb.Append("</svg>");
        return sb.ToString();
    }

    public static string Html(TuneResult r)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>dotnet merge tune: ").Append(Esc(Path.GetFileName(r.OutputDirectory))).Append("</title>");
        sb.Append("<style>body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}tr.best{font-weight:bold;background:#fee}</style></head><body>");
        sb.Append("<h1>Tuning report</h1><p>").Append(Esc($"{r.Strategy}, {r.Trials.Count} trials ({r.Evaluated} evaluated in this run, {r.Resumed} from the log). Best: trial {r.Best.Number}, score {Trial.FormatScore(r.Best.Score)}, with "))
            .Append(Esc(string.Join(", ", r.Labels.Select((l, i) => l + " = " + SearchDimension.Display(r.Best.Values[i]))))).Append(".</p>");
        sb.Append(Chart(r));
        sb.Append("<h2>Trials</h2><table><tr><th>trial</th>").Append(string.Concat(r.Labels.Select(l => "<th>" + Esc(l) + "</th>"))).Append("<th>score</th><th>seconds</th></tr>");
        foreach (var t in r.Trials)
        {
            sb.Append(t.Number == r.Best.Number ? "<tr class=\"best\">" : "<tr>").Append("<td>").Append(t.Number).Append("</td>");
            foreach (var v in t.Values) sb.Append("<td>").Append(Esc(SearchDimension.Display(v))).Append("</td>");
            sb.Append("<td>").Append(Esc(t.Score is null ? "invalid: " + t.Invalid : Trial.FormatScore(t.Score))).Append("</td><td>")
                .Append(t.Seconds.ToString("0.0", CultureInfo.InvariantCulture)).Append("</td></tr>");
        }
        sb.Append("</table></body></html>\n");
        return sb.ToString();
    }

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);

    private static string Esc(string text) => WebUtility.HtmlEncode(text);
}
