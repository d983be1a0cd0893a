using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using DotnetMerge.Definitions;
using DotnetMerge.Engine;

namespace DotnetMerge.Tuning;

/// <summary>One searched value of a definition: where it is (a label such as <c>models[1] weight</c>) and what it may be.</summary>
public sealed record SearchDimension(string Label, SearchSetting Setting)
{
    /// <summary>The value at unit coordinate <paramref name="u"/> in [0, 1]: <c>min + u·(max − min)</c> for a range (u = 1
    /// gives max exactly); the value number <c>min(n − 1, ⌊u·n⌋)</c> of a set of n.</summary>
    public object Decode(double u)
    {
        u = Math.Clamp(u, 0, 1);
        if (Setting.Kind == SearchKind.Range)
            return u == 1 ? Setting.Max : Setting.Min + u * (Setting.Max - Setting.Min);
        return Setting.Choices[Math.Min(Setting.Choices.Count - 1, (int)Math.Floor(u * Setting.Choices.Count))]!;
    }

    /// <summary>The value as YAML text, written in place of the search form.</summary>
    public static string Text(object value) => SearchSetting.YamlText(value);

    /// <summary>The value for tables: numbers with up to 6 significant digits.</summary>
    public static string Display(object value) => value is double d ? d.ToString("G6", CultureInfo.InvariantCulture) : ValueText.Format(value);
}

/// <summary>The searched values of one merge definition (<c>{search: ...}</c> forms, read by the ordinary parser and
/// validator with search allowed), and the candidate definitions with values filled in: the definition's own text with
/// each search form replaced by its value, so comments and layout survive and the model card records what was merged.</summary>
public sealed class SearchSpace
{
    private SearchSpace(string text, string path, MergeDefinition definition, IReadOnlyList<SearchDimension> dimensions)
    {
        Text = text;
        Path = path;
        Definition = definition;
        Dimensions = dimensions;
    }

    /// <summary>The definition text as written.</summary>
    public string Text { get; }

    /// <summary>The definition's path (locations, relative model paths).</summary>
    public string Path { get; }

    public MergeDefinition Definition { get; }

    public IReadOnlyList<SearchDimension> Dimensions { get; }

    /// <summary>A short fingerprint of the definition text (the trial log refuses to resume a different search).</summary>
    public string Fingerprint => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Text)))[..16].ToLowerInvariant();

    /// <summary>Parses and validates <paramref name="text"/> with search forms allowed; definition errors throw
    /// <see cref="DefinitionErrorsException"/>, a definition without search forms is an error (DMRG0990).</summary>
    public static SearchSpace Parse(string text, string path, out IReadOnlyList<DefinitionDiagnostic> diagnostics, bool allowUnknownKeys = false)
    {
        var result = DefinitionLoader.Load(text, path, new ValidationOptions { AllowUnknownKeys = allowUnknownKeys, AllowSearch = true });
        diagnostics = result.Diagnostics;
        if (result.HasErrors || result.Definition is null) throw new DefinitionErrorsException(result.Diagnostics);
        var dimensions = Collect(result.Definition);
        if (dimensions.Count == 0)
            throw new MergeException(MergeErrorKind.Definition, ErrorIds.NothingToSearch,
                $"{(path.Length > 0 ? path + ": " : "")}the definition searches nothing; give a parameter a search form, e.g. 'weight: {{search: [0.2, 1.0]}}' or 'density: {{search: {{values: [0.3, 0.5, 0.7]}}}}' (docs/tune.md)");
        if (dimensions.Any(d => d.Setting.SourceLength <= 0))
            throw new ArgumentException("the search forms must come from definition text (tune writes values in their place)");
        return new SearchSpace(text, path, result.Definition, dimensions);
    }

    /// <summary>The definition text with dimension i's search form replaced by <paramref name="values"/>[i].</summary>
    public string Fill(IReadOnlyList<object> values)
    {
        if (values.Count != Dimensions.Count) throw new ArgumentException($"{Dimensions.Count} values are needed, not {values.Count}");
        var sb = new StringBuilder(Text);
        foreach (var i in Enumerable.Range(0, Dimensions.Count).OrderByDescending(i => Dimensions[i].Setting.SourceStart))
        {
            var s = Dimensions[i].Setting;
            sb.Remove(s.SourceStart, s.SourceLength).Insert(s.SourceStart, SearchDimension.Text(values[i]));
        }
        return sb.ToString();
    }

    /// <summary>The values at unit coordinates <paramref name="point"/>.</summary>
    public object[] Decode(IReadOnlyList<double> point) => Dimensions.Select((d, i) => d.Decode(point[i])).ToArray();

    /// <summary>Every search form, in the order of the text: top-level parameters, then each model (or slice and source).</summary>
    private static List<SearchDimension> Collect(MergeDefinition d)
    {
        var found = new List<SearchDimension>();
        void From(ParameterMap map, string where)
        {
            foreach (var pair in map)
                Add(pair.Value, (where.Length > 0 ? where + " " : "") + pair.Key);
        }
        void Add(ParameterSetting setting, string label)
        {
            switch (setting)
            {
                case SearchSetting s:
                    found.Add(new SearchDimension(label, s));
                    break;
                case ConditionalSetting c:
                    foreach (var e in c.Entries)
                        Add(e.Value, label + (e.IsCatchAll ? "" : "[" + e.Filter + "]"));
                    break;
            }
        }

        From(d.Parameters, "");
        for (int i = 0; i < (d.Models?.Count ?? 0); i++)
            From(d.Models![i].Parameters, $"models[{i}]");
        for (int i = 0; i < (d.Slices?.Count ?? 0); i++)
        {
            From(d.Slices![i].Parameters, $"slices[{i}]");
            for (int j = 0; j < d.Slices[i].Sources.Count; j++)
                From(d.Slices[i].Sources[j].Parameters, $"slices[{i}].sources[{j}]");
        }
        foreach (var module in d.Modules ?? [])
        {
            var at = $"modules.{module.Name}";
            From(module.Parameters, at);
            for (int i = 0; i < (module.Models?.Count ?? 0); i++)
                From(module.Models![i].Parameters, $"{at}.models[{i}]");
            for (int i = 0; i < (module.Slices?.Count ?? 0); i++)
            {
                From(module.Slices![i].Parameters, $"{at}.slices[{i}]");
                for (int j = 0; j < module.Slices[i].Sources.Count; j++)
                    From(module.Slices[i].Sources[j].Parameters, $"{at}.slices[{i}].sources[{j}]");
            }
        }
        return found.OrderBy(x => x.Setting.SourceStart).ToList();
    }
}
