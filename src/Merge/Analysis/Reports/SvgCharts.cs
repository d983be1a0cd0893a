using System.Globalization;
using System.Net;
using System.Text;

namespace DotnetMerge.Analysis.Reports;

/// <summary>A line of a line chart: one value per x (NaN leaves a gap).</summary>
/// <param name="ColorIndex">The palette entry (default: the series' position), so that two views of one model share a colour.</param>
public sealed record ChartSeries(string Name, IReadOnlyList<double> Values, bool Dashed = false, int? ColorIndex = null);

/// <summary>Hand-written SVG charts (no plotting dependency, no script, no font files): line charts over layers and
/// heat maps of pairwise matrices. Every chart carries a <c>&lt;title&gt;</c>, a visible title (class
/// <c>chart-title</c>) and two axes (<c>x-axis</c>, <c>y-axis</c>), each with its label (<c>axis-label</c>).</summary>
public static class SvgCharts
{
    private static readonly string[] Palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];

    public static string Color(int index) => Palette[index % Palette.Length];

    private const int Width = 720, Height = 320, Left = 70, Right = 170, Top = 40, Bottom = 50;

    /// <summary>A line chart of <paramref name="series"/> over <paramref name="xs"/>; the y range is
    /// [<paramref name="yMin"/>, <paramref name="yMax"/>] when given, else the data's (with 0 included).</summary>
    public static string LineChart(string title, string xLabel, string yLabel, IReadOnlyList<double> xs, IReadOnlyList<ChartSeries> series,
        double? yMin = null, double? yMax = null)
    {
        var values = series.SelectMany(s => s.Values).Where(double.IsFinite).ToList();
        double lo = yMin ?? Math.Min(0, values.Count > 0 ? values.Min() : 0);
        double hi = yMax ?? (values.Count > 0 ? values.Max() : 1);
        if (!(hi > lo)) hi = lo + 1;
        if (yMax is null) hi += (hi - lo) * 0.05;
        double x0 = xs.Count > 0 ? xs.Min() : 0, x1 = xs.Count > 0 ? xs.Max() : 1;
        if (!(x1 > x0)) x1 = x0 + 1;
        int plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        double X(double x) => Left + (x - x0) / (x1 - x0) * plotW;
        double Y(double y) => Top + plotH - (y - lo) / (hi - lo) * plotH;

        var svg = Begin(title, Width, Height);
        // Axes with ticks and grid lines.
        svg.Append("<g class=\"axis x-axis\">");
        Line(svg, Left, Top + plotH, Left + plotW, Top + plotH, "#333");
        foreach (double t in Ticks(x0, x1, 8, integers: true))
        {
            Line(svg, X(t), Top + plotH, X(t), Top + plotH + 5, "#333");
            Text(svg, X(t), Top + plotH + 18, Format(t), "middle", 11);
        }
        Text(svg, Left + plotW / 2.0, Height - 10, xLabel, "middle", 12, "axis-label");
        svg.Append("</g><g class=\"axis y-axis\">");
        Line(svg, Left, Top, Left, Top + plotH, "#333");
        foreach (double t in Ticks(lo, hi, 6, integers: false))
        {
            Line(svg, Left - 5, Y(t), Left, Y(t), "#333");
            Line(svg, Left, Y(t), Left + plotW, Y(t), "#e5e5e5");
            Text(svg, Left - 8, Y(t) + 4, Format(t), "end", 11);
        }
        svg.Append(CultureInfo.InvariantCulture, $"<text class=\"axis-label\" x=\"16\" y=\"{F(Top + plotH / 2.0)}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 16 {F(Top + plotH / 2.0)})\">{Escape(yLabel)}</text>");
        svg.Append("</g>");
        for (int s = 0; s < series.Count; s++)
        {
            var color = Color(series[s].ColorIndex ?? s);
            var path = new StringBuilder();
            bool open = false;
            for (int i = 0; i < xs.Count && i < series[s].Values.Count; i++)
            {
                double v = series[s].Values[i];
                if (!double.IsFinite(v)) { open = false; continue; }
                path.Append(open ? " L" : " M").Append(F(X(xs[i]))).Append(' ').Append(F(Y(Math.Clamp(v, lo, hi))));
                open = true;
            }
            string dash = series[s].Dashed ? " stroke-dasharray=\"6 4\"" : "";
            svg.Append(CultureInfo.InvariantCulture, $"<path class=\"series\" d=\"{path.ToString().Trim()}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash}><title>{Escape(series[s].Name)}</title></path>");
            for (int i = 0; i < xs.Count && i < series[s].Values.Count; i++)
                if (double.IsFinite(series[s].Values[i]) && xs.Count <= 64)
                    svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(X(xs[i]))}\" cy=\"{F(Y(Math.Clamp(series[s].Values[i], lo, hi)))}\" r=\"2.5\" fill=\"{color}\"><title>{Escape(series[s].Name)}, x = {Format(xs[i])}: {Format(series[s].Values[i])}</title></circle>");
            // Legend.
            double ly = Top + 10 + s * 18;
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Width - Right + 12}\" y1=\"{F(ly)}\" x2=\"{Width - Right + 32}\" y2=\"{F(ly)}\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>");
            Text(svg, Width - Right + 37, ly + 4, Shorten(series[s].Name, 20), "start", 11, "legend");
        }
        return End(svg);
    }

    /// <summary>A heat map of <paramref name="values"/> (rows × columns), colours from <paramref name="min"/> to
    /// <paramref name="max"/> (diverging around 0 when <paramref name="min"/> &lt; 0), each cell labelled with its value.</summary>
    public static string HeatMap(string title, string xLabel, string yLabel, IReadOnlyList<string> rows, IReadOnlyList<string> columns,
        double[,] values, double min, double max, string format = "0.000")
    {
        int cell = Math.Clamp(360 / Math.Max(1, Math.Max(rows.Count, columns.Count)), 34, 90);
        int left = 150, top = 40, legend = 90;
        int width = left + columns.Count * cell + legend + 20, height = top + rows.Count * cell + 90;
        var svg = Begin(title, Math.Max(width, 420), height);
        for (int r = 0; r < rows.Count; r++)
            for (int c = 0; c < columns.Count; c++)
            {
                double v = values[r, c];
                double x = left + c * cell, y = top + r * cell;
                string fill = double.IsFinite(v) ? Shade(v, min, max) : "#f0f0f0";
                svg.Append(CultureInfo.InvariantCulture, $"<rect class=\"cell\" x=\"{F(x)}\" y=\"{F(y)}\" width=\"{cell}\" height=\"{cell}\" fill=\"{fill}\" stroke=\"#fff\"><title>{Escape(rows[r])} / {Escape(columns[c])}: {(double.IsFinite(v) ? Format(v) : "n/a")}</title></rect>");
                string label = double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "n/a";
                string ink = double.IsFinite(v) && Math.Abs(Position(v, min, max) - (min < 0 ? 0.5 : 0)) > 0.35 ? "#fff" : "#111";
                svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(x + cell / 2.0)}\" y=\"{F(y + cell / 2.0 + 4)}\" font-size=\"11\" text-anchor=\"middle\" fill=\"{ink}\">{label}</text>");
            }
        svg.Append("<g class=\"axis x-axis\">");
        for (int c = 0; c < columns.Count; c++)
            Text(svg, left + c * cell + cell / 2.0, top + rows.Count * cell + 16, Shorten(columns[c], cell / 6), "middle", 11);
        Text(svg, left + columns.Count * cell / 2.0, top + rows.Count * cell + 40, xLabel, "middle", 12, "axis-label");
        svg.Append("</g><g class=\"axis y-axis\">");
        for (int r = 0; r < rows.Count; r++)
            Text(svg, left - 8, top + r * cell + cell / 2.0 + 4, Shorten(rows[r], 22), "end", 11);
        svg.Append(CultureInfo.InvariantCulture, $"<text class=\"axis-label\" x=\"14\" y=\"{F(top + rows.Count * cell / 2.0)}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 {F(top + rows.Count * cell / 2.0)})\">{Escape(yLabel)}</text>");
        svg.Append("</g>");
        // Colour scale.
        double lx = left + columns.Count * cell + 24;
        int steps = 10, barH = Math.Max(80, rows.Count * cell);
        for (int i = 0; i < steps; i++)
        {
            double v = max - (max - min) * (i + 0.5) / steps;
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(lx)}\" y=\"{F(top + i * barH / (double)steps)}\" width=\"14\" height=\"{F(barH / (double)steps + 0.5)}\" fill=\"{Shade(v, min, max)}\"/>");
        }
        Text(svg, lx + 18, top + 10, Format(max), "start", 10);
        Text(svg, lx + 18, top + barH, Format(min), "start", 10);
        return End(svg);
    }

    private static StringBuilder Begin(string title, int width, int height)
    {
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture,
            $"<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" role=\"img\">");
        svg.Append("<title>").Append(Escape(title)).Append("</title>");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>");
        Text(svg, width / 2.0, 22, title, "middle", 14, "chart-title", bold: true);
        return svg;
    }

    private static string End(StringBuilder svg) => svg.Append("</svg>").ToString();

    /// <summary>Position of v in [min, max] as 0..1.</summary>
    private static double Position(double v, double min, double max) => max > min ? Math.Clamp((v - min) / (max - min), 0, 1) : 0.5;

    /// <summary>Sequential white → red for ranges from 0; diverging blue → white → red for ranges across 0.</summary>
    private static string Shade(double v, double min, double max)
    {
        double p = Position(v, min, max);
        (int R, int G, int B) white = (247, 247, 247), red = (178, 24, 43), blue = (33, 102, 172);
        (int, int, int) Mix((int R, int G, int B) a, (int R, int G, int B) b, double t)
            => ((int)Math.Round(a.R + (b.R - a.R) * t), (int)Math.Round(a.G + (b.G - a.G) * t), (int)Math.Round(a.B + (b.B - a.B) * t));
        var (r, g, b) = min < 0 ? (p < 0.5 ? Mix(blue, white, p * 2) : Mix(white, red, (p - 0.5) * 2)) : Mix(white, red, p);
        return string.Create(CultureInfo.InvariantCulture, $"#{r:x2}{g:x2}{b:x2}");
    }

    /// <summary>About <paramref name="count"/> round tick values covering [lo, hi].</summary>
    internal static IEnumerable<double> Ticks(double lo, double hi, int count, bool integers)
    {
        double raw = (hi - lo) / Math.Max(1, count);
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1.0, 2, 2.5, 5, 10 }.Select(m => m * magnitude).First(s => s >= raw);
        if (integers) step = Math.Max(1, Math.Round(step));
        for (double t = Math.Ceiling(lo / step) * step; t <= hi + step * 1e-9; t += step)
            yield return Math.Abs(t) < step * 1e-9 ? 0 : t;
    }

    private static void Line(StringBuilder svg, double x1, double y1, double x2, double y2, string color)
        => svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(x1)}\" y1=\"{F(y1)}\" x2=\"{F(x2)}\" y2=\"{F(y2)}\" stroke=\"{color}\"/>");

    private static void Text(StringBuilder svg, double x, double y, string text, string anchor, int size, string? cssClass = null, bool bold = false)
        => svg.Append(CultureInfo.InvariantCulture,
            $"<text{(cssClass is null ? "" : $" class=\"{cssClass}\"")} x=\"{F(x)}\" y=\"{F(y)}\" font-size=\"{size}\" text-anchor=\"{anchor}\"{(bold ? " font-weight=\"bold\"" : "")}>{Escape(text)}</text>");

    private static string F(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);

    public static string Format(double v)
        => !double.IsFinite(v) ? "n/a" : v == Math.Round(v) && Math.Abs(v) < 1e6 ? v.ToString("0", CultureInfo.InvariantCulture)
            : Math.Abs(v) >= 0.01 ? v.ToString("0.###", CultureInfo.InvariantCulture) : v.ToString("0.###e0", CultureInfo.InvariantCulture);

    public static string Escape(string text) => WebUtility.HtmlEncode(text);

    private static string Shorten(string text, int max) => text.Length <= max ? text : "…" + text[^(Math.Max(4, max) - 1)..];
}
