using System.Text.Json;

namespace DotnetMerge.Analysis.Reports;

/// <summary>The numbers of an <see cref="AnalysisReport"/> as JSON for scripts (the figures of the HTML page, exactly).
/// Ratios that are undefined (a zero task vector, no element changed by both) are null. Arrays are indexed like
/// <c>models</c>; pairwise matrices are symmetric.</summary>
public static class JsonReport
{
    public const int FormatVersion = 1;

    public static void Write(AnalysisReport report, Stream stream)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteNumber("formatVersion", FormatVersion);
        json.WriteString("method", report.Method);
        json.WriteString("sparsification", report.Sparsification);
        json.WriteBoolean("sparsifies", report.Sparsifies);
        json.WriteString("baseModel", report.BaseModel);
        json.WriteStartArray("models");
        foreach (var m in report.Models) json.WriteStringValue(m);
        json.WriteEndArray();
        json.WriteString("deltaMass", AnalysisReport.MassMeasure);
        if (report.MergedModel is { } merged) json.WriteString("mergedModel", merged); else json.WriteNull("mergedModel");
        json.WriteNumber("tensorsAnalyzed", report.TensorsAnalyzed);
        json.WriteNumber("tensorsSkipped", report.TensorsSkipped);
        json.WriteNumber("bytesRead", report.BytesRead);

        json.WriteStartObject("summary");
        json.WriteStartArray("models");
        foreach (var m in report.Summary)
        {
            json.WriteStartObject();
            json.WriteString("name", m.Name);
            json.WriteStartArray("declaredBaseModels");
            foreach (var b in m.DeclaredBases) json.WriteStringValue(b);
            json.WriteEndArray();
            Number(json, "relativeNorm", m.RelativeNorm);
            json.WriteBoolean("likelyOtherBase", m.LikelyOtherBase);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("farParts");
        foreach (var f in report.FarParts)
        {
            json.WriteStartObject();
            json.WriteString("part", f.Part);
            json.WriteString("model", f.Model);
            Number(json, "relativeNorm", f.RelativeNorm);
            Number(json, "medianLayerRelativeNorm", f.MedianLayerNorm);
            Number(json, "ratio", f.Ratio);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();

        json.WritePropertyName("total");
        Part(json, report.Total.Sums, report.MergedModel is not null, null);
        json.WriteStartObject("groups");
        foreach (var g in report.Groups)
        {
            json.WritePropertyName(g.Part);
            Part(json, g.Sums, report.MergedModel is not null, null);
        }
        json.WriteEndObject();
        json.WriteStartArray("layers");
        foreach (var (layer, figures) in report.Layers) Part(json, figures.Sums, report.MergedModel is not null, layer);
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void Part(Utf8JsonWriter json, DeltaSums s, bool merged, int? layer)
    {
        json.WriteStartObject();
        if (layer is { } l) json.WriteNumber("layer", l);
        json.WriteNumber("elements", s.Elements);
        Vector(json, "relativeNorm", s.Tasks, s.RelativeNorm);
        Vector(json, "keptFraction", s.Tasks, s.KeptFraction);
        Vector(json, "methodRetained", s.Tasks, s.MethodRetained);
        if (merged) Vector(json, "mergedRetained", s.Tasks, s.MergedRetained);
        Matrix(json, "cosine", s.Tasks, s.Cosine);
        Matrix(json, "signConflictRate", s.Tasks, s.SignConflictRate);
        json.WriteStartArray("bothChanged");
        for (int i = 0; i < s.Tasks; i++)
        {
            json.WriteStartArray();
            for (int j = 0; j < s.Tasks; j++)
                json.WriteNumberValue(i == j ? 0 : s.BothChanged[Math.Min(i, j), Math.Max(i, j)]);
            json.WriteEndArray();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void Vector(Utf8JsonWriter json, string name, int n, Func<int, double> value)
    {
        json.WriteStartArray(name);
        for (int i = 0; i < n; i++) Value(json, value(i));
        json.WriteEndArray();
    }

    private static void Matrix(Utf8JsonWriter json, string name, int n, Func<int, int, double> value)
    {
        json.WriteStartArray(name);
        for (int i = 0; i < n; i++)
        {
            json.WriteStartArray();
            for (int j = 0; j < n; j++) Value(json, value(i, j));
            json.WriteEndArray();
        }
        json.WriteEndArray();
    }

    private static void Number(Utf8JsonWriter json, string name, double v)
    {
        json.WritePropertyName(name);
        Value(json, v);
    }

    private static void Value(Utf8JsonWriter json, double v)
    {
        if (double.IsFinite(v)) json.WriteNumberValue(v); else json.WriteNullValue();
    }
}
