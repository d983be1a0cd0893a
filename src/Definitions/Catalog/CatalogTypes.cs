namespace DotnetMerge.Definitions;

/// <summary>Value type of a parameter.</summary>
public enum ParameterType
{
    /// <summary>A real number; gradients allowed.</summary>
    Number,

    /// <summary>true/false; step lists of booleans allowed. See <see cref="ParameterDescriptor.AllowedValues"/> for extra string values.</summary>
    Boolean,

    /// <summary>A whole number; no gradients.</summary>
    Integer,

    /// <summary>A string, restricted to <see cref="ParameterDescriptor.AllowedValues"/> when given.</summary>
    String,
}

/// <summary>Where a parameter may be set.</summary>
public enum ParameterScope
{
    /// <summary>Method-wide: top-level or slice parameters only; filters match the OUTPUT tensor name.</summary>
    Global,

    /// <summary>Per model: any level (model/source, slice, top level); filters match that model's INPUT tensor name.</summary>
    PerModel,
}

/// <summary>What a method does with <c>base_model</c>.</summary>
public enum BaseModelRule
{
    /// <summary>No special role: a given base model is merged as one more input (and counts as an input).</summary>
    NotUsed,

    /// <summary>May be given; then the method works on differences from it.</summary>
    Optional,

    /// <summary>Must be given (task-vector methods).</summary>
    Required,

    /// <summary>Must be given and be one of the merged inputs (slerp: the t = 0 end).</summary>
    RequiredAmongInputs,

    /// <summary>May be given, and must then be a model other than the merged ones (nuslerp).</summary>
    OptionalDistinct,
}

/// <summary>How embedding matrices of different vocabulary sizes are reconciled.</summary>
public enum VocabularyRule
{
    /// <summary>Shapes must match.</summary>
    MustMatch,

    /// <summary>All inputs are cropped to the largest common sub-matrix.</summary>
    CommonSubmatrix,

    /// <summary>Non-base inputs are cropped to the base model's shape.</summary>
    CropToBase,
}

/// <summary>One parameter of a merge method.</summary>
public sealed class ParameterDescriptor
{
    public ParameterDescriptor(string name, ParameterType type, ParameterScope scope, object? @default, string description)
    {
        Name = name;
        Type = type;
        Scope = scope;
        Default = @default;
        Description = description;
    }

    public string Name { get; }

    public ParameterType Type { get; }

    public ParameterScope Scope { get; }

    /// <summary>Default value (double, bool or string), or null when there is none.</summary>
    public object? Default { get; }

    /// <summary>Must be set (for every non-base model, when per-model).</summary>
    public bool Required { get; init; }

    /// <summary>Hard lower bound (error below); inclusive unless <see cref="MinExclusive"/>.</summary>
    public double? Min { get; init; }

    public bool MinExclusive { get; init; }

    /// <summary>Hard upper bound (error above); inclusive unless <see cref="MaxExclusive"/>.</summary>
    public double? Max { get; init; }

    public bool MaxExclusive { get; init; }

    /// <summary>Soft range: values outside [WarnMin, WarnMax] are allowed but get a warning explaining <see cref="RangeNote"/>.</summary>
    public double? WarnMin { get; init; }

    public double? WarnMax { get; init; }

    public string? RangeNote { get; init; }

    /// <summary>For <see cref="ParameterType.String"/>: the only accepted values. For <see cref="ParameterType.Boolean"/>:
    /// string values accepted besides true/false.</summary>
    public IReadOnlyList<string>? AllowedValues { get; init; }

    /// <summary>For a <see cref="ParameterType.Boolean"/> with <see cref="AllowedValues"/>: the names that false and true
    /// stand for, so that the parameter reads as one choice (rescale: false = 'none', true = 'l1', or 'inverse'); typed plans
    /// make it an enum of these names and the allowed values. Null for a plain flag.</summary>
    public (string False, string True)? BooleanNames { get; init; }

    /// <summary>Accepted for compatibility with mergekit, without effect.</summary>
    public bool Ignored { get; init; }

    /// <summary>A dotnet-merge extension, not understood by mergekit.</summary>
    public bool Extension { get; init; }

    public string Description { get; }

    public override string ToString() => Name;
}

/// <summary>One merge method: arity, base-model rule, vocabulary rule and parameters.</summary>
public sealed class MethodDescriptor
{
    public MethodDescriptor(string name, string prettyName, string description, IReadOnlyList<ParameterDescriptor> parameters)
    {
        Name = name;
        PrettyName = prettyName;
        Description = description;
        Parameters = parameters;
    }

    public string Name { get; }

    public string PrettyName { get; }

    /// <summary>One sentence.</summary>
    public string Description { get; }

    public string? ReferenceUrl { get; init; }

    /// <summary>Fewest inputs besides the base model (for <see cref="BaseModelRule.NotUsed"/> a given base counts as an input).</summary>
    public int MinModels { get; init; } = 1;

    /// <summary>Most inputs besides the base model; null = unbounded.</summary>
    public int? MaxModels { get; init; }

    public BaseModelRule BaseRule { get; init; }

    public VocabularyRule VocabularyRule { get; init; }

    public IReadOnlyList<ParameterDescriptor> Parameters { get; }

    /// <summary>Uses the deterministic random stream (seeded by <c>seed:</c>).</summary>
    public bool Randomized { get; init; }

    /// <summary>True when the base model's parameters are required too (the base is an ordinary input).</summary>
    public bool BaseIsInput => BaseRule == BaseModelRule.NotUsed;

    /// <summary>The parameter named <paramref name="name"/> (ordinal), or null.</summary>
    public ParameterDescriptor? FindParameter(string name)
        => Parameters.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.Ordinal));

    public override string ToString() => Name;
}
