namespace DotnetMerge.Definitions;

/// <summary>The 20 merge methods mergekit defines, with their parameters: the single source of truth for validation,
/// help text, documentation and the merge engine.</summary>
public static class MethodCatalog
{
    private const string DensityNote = "a density of 1 or more keeps every element (no sparsification)";

    private static ParameterDescriptor Weight(string description = "Weight of this model in the merge.")
        => new("weight", ParameterType.Number, ParameterScope.PerModel, null, description) { Required = true };

    private static ParameterDescriptor Flag(string name, bool @default, string description)
        => new(name, ParameterType.Boolean, ParameterScope.Global, @default, description);

    private static ParameterDescriptor GlobalNumber(string name, double? @default, string description)
        => new(name, ParameterType.Number, ParameterScope.Global, @default, description);

    private static ParameterDescriptor Int8Mask() => new("int8_mask", ParameterType.Boolean, ParameterScope.Global, false,
        "Memory-saving switch of mergekit; accepted and ignored.") { Ignored = true };

    private static MethodDescriptor TaskArithmeticVariant(
        string name, string pretty, string description, string? url, bool normalize, bool rescale, bool randomized,
        params ParameterDescriptor[] extraPerModel)
    {
        var parameters = new List<ParameterDescriptor>
        {
            Weight("Scale of this model's task vector (difference from the base)."),
            new("density", ParameterType.Number, ParameterScope.PerModel, 1.0,
                "Fraction of the task vector's elements to keep.") { Min = 0, WarnMax = 1, RangeNote = DensityNote },
        };
        parameters.AddRange(extraPerModel);
        parameters.Add(Flag("normalize", normalize, "Divide the summed task vectors by the sum of the weights."));
        parameters.Add(new ParameterDescriptor("rescale", ParameterType.Boolean, ParameterScope.Global, rescale,
            "Restore the L1 mass of each sparsified task vector; true means 'l1'. 'inverse' (the DARE paper's 1/p scaling) is a dotnet-merge extension.")
        {
            AllowedValues = new[] { "l1", "inverse" },
            BooleanNames = ("none", "l1"),
        });
        parameters.Add(GlobalNumber("lambda", 1.0, "Factor applied to the merged task vector before it is added to the base."));
        parameters.Add(Int8Mask());
        return Define(name, pretty, description, url, 1, null, BaseModelRule.Required, VocabularyRule.CropToBase, randomized, parameters.ToArray());
    }

    private static MethodDescriptor Define(string name, string pretty, string description, string? url, int min, int? max,
        BaseModelRule baseRule, VocabularyRule vocabulary, bool randomized, ParameterDescriptor[] parameters)
        => new(name, pretty, description, parameters)
        {
            ReferenceUrl = url,
            MinModels = min,
            MaxModels = max,
            BaseRule = baseRule,
            VocabularyRule = vocabulary,
            Randomized = randomized,
        };

    private static ParameterDescriptor RamEpsilon() => new("epsilon", ParameterType.Number, ParameterScope.Global, 1e-5,
        "Magnitude below which a difference from the base counts as no change.") { Min = 0 };

    private static ParameterDescriptor TrimScope() => new("trim_scope", ParameterType.String, ParameterScope.Global, "tensor",
        "Where the top-k magnitude threshold is computed: 'tensor' (mergekit: per tensor) or 'model' (the TIES paper: one threshold per model over all of its task-vector elements, found in a first pass). A dotnet-merge extension.")
    {
        AllowedValues = new[] { "tensor", "model" },
        Extension = true,
    };

    private static ParameterDescriptor Gamma() => new("gamma", ParameterType.Number, ParameterScope.PerModel, 0.01,
        "Fraction of the largest-magnitude elements removed as outliers.") { Min = 0, Max = 1 };

    private static ParameterDescriptor DellaEpsilon() => new("epsilon", ParameterType.Number, ParameterScope.PerModel, 0.15,
        "Spread of the keep probabilities around the density (density ± epsilon).") { Min = 0 };

    private const string TiesUrl = "https://arxiv.org/abs/2306.01708";
    private const string DareUrl = "https://arxiv.org/abs/2311.03099";
    private const string BreadcrumbsUrl = "https://arxiv.org/abs/2312.06795";
    private const string DellaUrl = "https://arxiv.org/abs/2406.11617";

    /// <summary>Every method, in a stable order.</summary>
    public static IReadOnlyList<MethodDescriptor> All { get; } = new[]
    {
        Define("linear", "Linear",
            "Weighted average of the input models' tensors.",
            "https://arxiv.org/abs/2203.05482", 1, null, BaseModelRule.NotUsed, VocabularyRule.CommonSubmatrix, false,
            new[]
            {
                Weight(),
                Flag("normalize", true, "Divide by the sum of the weights."),
            }),
        TaskArithmeticVariant("task_arithmetic", "Task Arithmetic",
            "Adds the weighted differences between each model and the base model back onto the base.",
            "https://arxiv.org/abs/2212.04089", normalize: false, rescale: false, randomized: false),
        TaskArithmeticVariant("ties", "TIES",
            "Task arithmetic that keeps each task vector's largest elements and only the deltas agreeing with the elected sign.",
            TiesUrl, normalize: true, rescale: false, randomized: false, TrimScope()),
        TaskArithmeticVariant("dare_ties", "DARE TIES",
            "Task arithmetic with random dropping of task-vector elements followed by TIES sign election.",
            DareUrl, normalize: false, rescale: true, randomized: true),
        TaskArithmeticVariant("dare_linear", "Linear DARE",
            "Task arithmetic with random dropping of task-vector elements and no sign election.",
            DareUrl, normalize: false, rescale: true, randomized: true),
        TaskArithmeticVariant("breadcrumbs", "Model Breadcrumbs",
            "Task arithmetic that discards both the smallest and the largest-magnitude elements of each task vector.",
            BreadcrumbsUrl, normalize: false, rescale: false, randomized: false, Gamma()),
        TaskArithmeticVariant("breadcrumbs_ties", "Model Breadcrumbs with TIES",
            "Model Breadcrumbs sparsification followed by TIES sign election.",
            BreadcrumbsUrl, normalize: false, rescale: false, randomized: false, Gamma()),
        TaskArithmeticVariant("della", "DELLA",
            "Task arithmetic with magnitude-ranked random dropping per row, followed by TIES sign election.",
            DellaUrl, normalize: true, rescale: true, randomized: true, DellaEpsilon()),
        TaskArithmeticVariant("della_linear", "Linear DELLA",
            "Task arithmetic with magnitude-ranked random dropping per row and no sign election.",
            DellaUrl, normalize: false, rescale: true, randomized: true, DellaEpsilon()),
        Define("sce", "SCE",
            "Selects the positions where task vectors vary most, elects signs, and weights each task vector by its mean square.",
            "https://arxiv.org/abs/2408.07990", 1, null, BaseModelRule.Required, VocabularyRule.MustMatch, false,
            new[]
            {
                new ParameterDescriptor("select_topk", ParameterType.Number, ParameterScope.Global, 1.0,
                    "Fraction of positions (by variance across models) to keep; 1 disables selection.") { Min = 0, Max = 1 },
                Int8Mask(),
            }),
        Define("ram", "Reinforced Agent Merging",
            "Adds changes made by a single model in full and averages changes made by several models.",
            null, 1, null, BaseModelRule.Required, VocabularyRule.MustMatch, false,
            new[]
            {
                RamEpsilon(),
            }),
        Define("ramplus_tl", "Reinforced Agent Merging Plus (tensor-local)",
            "RAM that boosts each model's unique changes according to how much it overlaps with the others.",
            null, 1, null, BaseModelRule.Required, VocabularyRule.MustMatch, false,
            new[]
            {
                RamEpsilon(),
                GlobalNumber("r", 0.1, "Strength of the boost applied to unique changes."),
                new ParameterDescriptor("alpha", ParameterType.Number, ParameterScope.Global, 0.2,
                    "Upper clip of the overlap ratio used for the boost.") { Min = 0 },
            }),
        Define("slerp", "SLERP",
            "Spherical interpolation between the base model (t = 0) and one other model (t = 1).",
            "https://en.wikipedia.org/wiki/Slerp", 1, 1, BaseModelRule.RequiredAmongInputs, VocabularyRule.CommonSubmatrix, false,
            new[]
            {
                new ParameterDescriptor("t", ParameterType.Number, ParameterScope.Global, null,
                    "Interpolation position: 0 gives the base model, 1 the other model.")
                { Required = true, WarnMin = 0, WarnMax = 1, RangeNote = "values outside [0, 1] extrapolate" },
            }),
        Define("nuslerp", "NuSLERP",
            "Spherical interpolation of two models (or of their task vectors when a separate base is given), positioned by their weights.",
            null, 2, 2, BaseModelRule.OptionalDistinct, VocabularyRule.CommonSubmatrix, false,
            new[]
            {
                Weight("Relative weight; the position is weight2 / (weight1 + weight2)."),
                Flag("nuslerp_flatten", true, "Interpolate the whole flattened tensor rather than vector by vector."),
                Flag("nuslerp_row_wise", false, "With nuslerp_flatten false: interpolate the vectors along dimension 0 instead of the last dimension."),
            }),
        Define("multislerp", "Multi-SLERP",
            "Weighted spherical average of any number of models on the hypersphere, optionally around a base model.",
            null, 2, null, BaseModelRule.Optional, VocabularyRule.MustMatch, false,
            new[]
            {
                Weight(),
                Flag("normalize_weights", true, "Divide the weights by their sum."),
                new ParameterDescriptor("eps", ParameterType.Number, ParameterScope.Global, 1e-8,
                    "Small constant that guards the divisions.") { Min = 0 },
            }),
        Define("karcher", "Karcher Mean",
            "Riemannian (Karcher) mean of the models' directions with equal weights, scaled by their mean norm.",
            "https://en.wikipedia.org/wiki/Karcher_mean", 2, null, BaseModelRule.NotUsed, VocabularyRule.MustMatch, false,
            new[]
            {
                new ParameterDescriptor("max_iter", ParameterType.Integer, ParameterScope.Global, 10.0,
                    "Most iterations of the fixed-point solver.") { Min = 1 },
                new ParameterDescriptor("tol", ParameterType.Number, ParameterScope.Global, 1e-5,
                    "Convergence tolerance of the solver.") { Min = 0 },
            }),
        Define("model_stock", "Model Stock",
            "Moves from the base model towards the average of the others by an amount set by the angle between their task vectors.",
            "https://arxiv.org/abs/2403.19522", 2, null, BaseModelRule.Required, VocabularyRule.CommonSubmatrix, false,
            new[]
            {
                Flag("filter_wise", false, "Compute the angle per row instead of over the whole tensor."),
            }),
        Define("nearswap", "NearSwap",
            "Takes the second model's values only where they are already close to the base model's.",
            null, 1, 1, BaseModelRule.Required, VocabularyRule.MustMatch, false,
            new[]
            {
                new ParameterDescriptor("t", ParameterType.Number, ParameterScope.Global, null,
                    "Closeness threshold: elements whose difference is below t are swapped in fully.") { Required = true },
            }),
        Define("arcee_fusion", "Arcee Fusion",
            "Copies from the second model only the elements whose change from the base is unusually important.",
            null, 1, 1, BaseModelRule.Required, VocabularyRule.CommonSubmatrix, true,
            Array.Empty<ParameterDescriptor>()),
        Define("passthrough", "Passthrough",
            "Copies tensors unchanged (optionally scaled); used to stack layer ranges of models into a new one.",
            null, 1, 1, BaseModelRule.NotUsed, VocabularyRule.MustMatch, false,
            new[]
            {
                new ParameterDescriptor("scale", ParameterType.Number, ParameterScope.PerModel, null,
                    "Factor applied to the copied tensor (usually with a filter)."),
            }),
    };

    /// <summary>The method with exactly this name (ordinal), or null.</summary>
    public static MethodDescriptor? Find(string name)
        => All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.Ordinal));

    /// <summary>Method names close to <paramref name="name"/> (typos, '-' for '_', prefixes), best first.</summary>
    public static IReadOnlyList<string> Suggest(string name) => NameSuggester.Suggest(name, All.Select(m => m.Name));

    /// <summary>Methods that have a parameter called <paramref name="parameterName"/>.</summary>
    public static IReadOnlyList<string> MethodsWithParameter(string parameterName)
        => All.Where(m => m.FindParameter(parameterName) is not null).Select(m => m.Name).ToList();
}
