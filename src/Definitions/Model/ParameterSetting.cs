namespace DotnetMerge.Definitions;

/// <summary>The value of one parameter as written: a scalar, a gradient, a step list or conditional (filtered) entries.
/// <see cref="Evaluate"/> gives the value for one tensor at layer position <c>t</c> in [0, 1]; null means
/// "not set here" and lets the next precedence level answer.</summary>
public abstract class ParameterSetting
{
    public SourceLocation Location { get; init; }

    /// <summary>The value for the tensor <paramref name="tensorName"/> at position <paramref name="t"/>:
    /// a double, a bool, a string, or null when this setting does not apply to that tensor.</summary>
    public abstract object? Evaluate(string tensorName, double t);

    /// <summary>A short description of the form, for messages ("a gradient of 3 numbers").</summary>
    public abstract string Describe();
}

/// <summary>A single value: double, bool, string, or null (an explicit YAML null, which means "not set").</summary>
public sealed class ScalarSetting : ParameterSetting
{
    public ScalarSetting(object? value)
    {
        if (value is not (null or double or bool or string))
            throw new ArgumentException("a scalar parameter value is a double, a bool, a string or null", nameof(value));
        Value = value;
    }

    public object? Value { get; }

    public override object? Evaluate(string tensorName, double t) => Value;

    public override string Describe() => ValueText.Kind(Value);
}

/// <summary>A list of numbers: piecewise-linear interpolation over anchors evenly spaced on [0, 1].</summary>
public sealed class GradientSetting : ParameterSetting
{
    public GradientSetting(IReadOnlyList<double> values, IReadOnlyList<SourceLocation>? elementLocations = null)
    {
        if (values is null || values.Count == 0)
            throw new ArgumentException("a gradient needs at least one value", nameof(values));
        Values = values;
        ElementLocations = elementLocations ?? Array.Empty<SourceLocation>();
    }

    public IReadOnlyList<double> Values { get; }

    /// <summary>Location of each element (empty for settings built in code).</summary>
    public IReadOnlyList<SourceLocation> ElementLocations { get; }

    public override object? Evaluate(string tensorName, double t) => Interpolate(Values, t);

    /// <summary>s = t·(n−1); i0 = floor(s); i1 = min(n−1, i0+1); f = s − i0; (1−f)·v[i0] + f·v[i1].</summary>
    public static double Interpolate(IReadOnlyList<double> values, double t)
    {
        var n = values.Count;
        var s = t * (n - 1);
        var i0 = (int)Math.Floor(s);
        if (i0 < 0) i0 = 0;
        if (i0 > n - 1) i0 = n - 1;
        var i1 = Math.Min(n - 1, i0 + 1);
        var f = s - i0;
        return (1 - f) * values[i0] + f * values[i1];
    }

    public override string Describe() => "a gradient of " + Values.Count + " numbers";
}

/// <summary>A list of non-numeric scalars (bools, strings): a step function, <c>v[(int)(t·(n−1))]</c>.</summary>
public sealed class StepSetting : ParameterSetting
{
    public StepSetting(IReadOnlyList<object?> values, IReadOnlyList<SourceLocation>? elementLocations = null)
    {
        if (values is null || values.Count == 0)
            throw new ArgumentException("a step list needs at least one value", nameof(values));
        Values = values;
        ElementLocations = elementLocations ?? Array.Empty<SourceLocation>();
    }

    public IReadOnlyList<object?> Values { get; }

    public IReadOnlyList<SourceLocation> ElementLocations { get; }

    public override object? Evaluate(string tensorName, double t)
    {
        var i = (int)(t * (Values.Count - 1));
        return Values[Math.Max(0, Math.Min(Values.Count - 1, i))];
    }

    public override string Describe() => "a list of " + Values.Count + " values";
}

/// <summary>One entry of a conditional list: applies when <see cref="Filter"/> is null, "*",
/// or an ordinal substring of the tensor name.</summary>
public sealed class ConditionalEntry
{
    public ConditionalEntry(ParameterSetting value, string? filter = null)
    {
        Value = value ?? throw new ArgumentNullException(nameof(value));
        Filter = filter;
    }

    public ParameterSetting Value { get; }

    public string? Filter { get; }

    public SourceLocation Location { get; init; }

    /// <summary>True for an entry that matches every tensor (no filter or "*").</summary>
    public bool IsCatchAll => Filter is null || Filter == "*";

    public bool Matches(string tensorName) => IsCatchAll || tensorName.IndexOf(Filter!, StringComparison.Ordinal) >= 0;
}

/// <summary>Entries scanned in order; the first that matches the tensor name gives the value (evaluated recursively).
/// When none matches the result is null ("not set here").</summary>
public sealed class ConditionalSetting : ParameterSetting
{
    public ConditionalSetting(IReadOnlyList<ConditionalEntry> entries)
    {
        if (entries is null || entries.Count == 0)
            throw new ArgumentException("a conditional setting needs at least one entry", nameof(entries));
        Entries = entries;
    }

    public IReadOnlyList<ConditionalEntry> Entries { get; }

    /// <summary>True when some entry matches every tensor.</summary>
    public bool HasCatchAll => Entries.Any(e => e.IsCatchAll);

    public override object? Evaluate(string tensorName, double t)
    {
        foreach (var entry in Entries)
        {
            if (entry.Matches(tensorName))
                return entry.Value.Evaluate(tensorName, t);
        }

        return null;
    }

    public override string Describe() => "a list of " + Entries.Count + " filtered values";
}

/// <summary>What a search form offers: a continuous range or a set of values.</summary>
public enum SearchKind
{
    /// <summary><c>{search: [min, max]}</c>: any number in [min, max].</summary>
    Range,

    /// <summary><c>{search: {values: [a, b, ...]}}</c>: one of the values listed.</summary>
    Choice,
}

/// <summary>A value left for <c>dotnet merge tune</c> to find (<c>{search: [min, max]}</c> or <c>{search: {values: [...]}}</c>).
/// It has no value of its own: <see cref="Evaluate"/> refuses, and the validator reports it (DMRG0330) unless the
/// definition is read for tuning; tune writes a chosen value in its place and merges that definition.</summary>
public sealed class SearchSetting : ParameterSetting
{
    private SearchSetting(SearchKind kind, double min, double max, IReadOnlyList<object?> choices, IReadOnlyList<string> choiceTexts,
        IReadOnlyList<SourceLocation> elementLocations)
    {
        Kind = kind;
        Min = min;
        Max = max;
        Choices = choices;
        ChoiceTexts = choiceTexts;
        ElementLocations = elementLocations;
    }

    /// <summary>A continuous range [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static SearchSetting Range(double min, double max, IReadOnlyList<SourceLocation>? boundLocations = null)
        => new(SearchKind.Range, min, max, Array.Empty<object?>(), Array.Empty<string>(), boundLocations ?? Array.Empty<SourceLocation>());

    /// <summary>A set of values (doubles, bools or strings); <paramref name="texts"/> are the YAML scalars as written (null: formatted).</summary>
    public static SearchSetting Choice(IReadOnlyList<object?> values, IReadOnlyList<string>? texts = null, IReadOnlyList<SourceLocation>? locations = null)
    {
        if (values is null || values.Count == 0)
            throw new ArgumentException("a set of searched values needs at least one value", nameof(values));
        if (values.Any(v => v is not (double or bool or string)))
            throw new ArgumentException("a searched value is a double, a bool or a string", nameof(values));
        return new(SearchKind.Choice, double.NaN, double.NaN, values, texts ?? values.Select(YamlText).ToList(), locations ?? Array.Empty<SourceLocation>());
    }

    public SearchKind Kind { get; }

    /// <summary>Lower bound of a range (NaN for a set).</summary>
    public double Min { get; }

    /// <summary>Upper bound of a range (NaN for a set).</summary>
    public double Max { get; }

    /// <summary>The values of a set (empty for a range).</summary>
    public IReadOnlyList<object?> Choices { get; }

    /// <summary>Each value of a set as YAML text (what tune writes in place of the search form).</summary>
    public IReadOnlyList<string> ChoiceTexts { get; }

    /// <summary>Locations of the bounds (range) or of the values (set); empty for settings built in code.</summary>
    public IReadOnlyList<SourceLocation> ElementLocations { get; }

    /// <summary>Character offset of the search form in the definition text, and its length (0 when built in code).</summary>
    public int SourceStart { get; init; }

    public int SourceLength { get; init; }

    /// <summary>The same search placed in a definition's text.</summary>
    public SearchSetting At(SourceLocation location, int sourceStart, int sourceLength)
        => new(Kind, Min, Max, Choices, ChoiceTexts, ElementLocations) { Location = location, SourceStart = sourceStart, SourceLength = sourceLength };

    /// <summary>The location of element <paramref name="i"/>, or the form's own.</summary>
    public SourceLocation ElementLocation(int i) => i < ElementLocations.Count ? ElementLocations[i] : Location;

    public override object? Evaluate(string tensorName, double t)
        => throw new InvalidOperationException("a searched value (" + Describe() + ") has no value of its own; 'dotnet merge tune' fills it in");

    public override string Describe() => Kind == SearchKind.Range
        ? "a search range [" + ValueText.Format(Min) + ", " + ValueText.Format(Max) + "]"
        : "a search over " + Choices.Count + " value" + (Choices.Count == 1 ? "" : "s");

    /// <summary>The YAML form: <c>{search: [0.2, 1]}</c> or <c>{search: {values: [0.3, 0.5]}}</c>.</summary>
    public string ToYaml() => Kind == SearchKind.Range
        ? "{search: [" + YamlText(Min) + ", " + YamlText(Max) + "]}"
        : "{search: {values: [" + string.Join(", ", ChoiceTexts) + "]}}";

    /// <summary>A value as a YAML scalar (numbers round-trip, strings single-quoted).</summary>
    public static string YamlText(object? value) => value switch
    {
        double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        string s => "'" + s.Replace("'", "''") + "'",
        _ => "null",
    };
}
