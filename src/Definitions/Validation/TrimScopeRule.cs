namespace DotnetMerge.Definitions;

/// <summary><c>trim_scope: model</c> (TIES methods, a dotnet-merge extension) finds one magnitude threshold per model over
/// all of its task-vector elements, so each model needs one density for every tensor: not a gradient, not filters whose
/// values differ, and the same number in every slice. The engine relies on this rule (it asserts it while planning).</summary>
internal sealed partial class DefinitionChecker
{
    private void CheckModelTrimScope(IReadOnlyList<OutputSlice> slices, MethodDescriptor method)
    {
        if (method.FindParameter("trim_scope") is null || method.FindParameter("density") is not { } density)
            return;
        var chosen = new Dictionary<ModelReference, double>();
        foreach (var slice in slices)
        {
            if (!MayScopeToModel(slice))
                continue;
            var baseModel = DefinitionNormalizer.EffectiveBaseModel(_d, slice);
            if (baseModel is null)
                continue;
            foreach (var source in slice.Sources.Where(s => s.Model != baseModel))
            {
                var setting = new[] { source.Parameters, slice.Parameters, slice.ModuleParameters, _d.Parameters }
                    .Select(map => map.TryGetValue(density.Name, out var s) ? s : null)
                    .FirstOrDefault(s => s is not null);
                var location = setting is { Location.IsEmpty: false } ? setting.Location : source.Location;
                var value = setting is null ? density.Default as double? : Constant(setting);
                if (value is not { } v)
                {
                    Report(DiagnosticDescriptors.DensityNotConstant, location, "give this model one number for density, or use trim_scope: tensor",
                        source.Model, "density " + Describe(setting!));
                    continue;
                }

                if (chosen.TryGetValue(source.Model, out var earlier) && earlier != v)
                    Report(DiagnosticDescriptors.DensityNotConstant, location, "use the same density for this model in every slice, or use trim_scope: tensor",
                        source.Model, "density " + ValueText.Format(earlier) + " in one slice and " + ValueText.Format(v) + " in another");
                else
                    chosen[source.Model] = v;
            }
        }
    }

    /// <summary>True when <c>trim_scope</c> is (or, under a filter, can be) 'model' for this slice.</summary>
    private bool MayScopeToModel(OutputSlice slice)
    {
        var setting = new[] { slice.Parameters, slice.ModuleParameters, _d.Parameters }
            .Select(map => map.TryGetValue("trim_scope", out var s) ? s : null).FirstOrDefault(s => s is not null);
        return setting switch
        {
            ScalarSetting { Value: "model" } => true,
            ConditionalSetting c => c.Entries.Any(e => e.Value is ScalarSetting { Value: "model" }),
            StepSetting step => step.Values.Any(v => v is "model"),
            _ => false,
        };
    }

    /// <summary>The one number a setting gives every tensor, or null when it varies (or is not a number).</summary>
    private static double? Constant(ParameterSetting setting)
    {
        IEnumerable<object?> values = setting switch
        {
            ScalarSetting s => new[] { s.Value },
            GradientSetting g => g.Values.Cast<object?>(),
            StepSetting s => s.Values,
            ConditionalSetting c => c.Entries.Select(e => Constant(e.Value)).Cast<object?>()
                .Concat(c.HasCatchAll ? Array.Empty<object?>() : new object?[] { null }),
            _ => new object?[] { null },
        };
        var distinct = values.Distinct().ToList();
        return distinct.Count == 1 && distinct[0] is double d ? d : null;
    }

    private static string Describe(ParameterSetting setting) => setting switch
    {
        GradientSetting g => "a gradient [" + string.Join(", ", g.Values.Select(v => ValueText.Format(v))) + "]",
        ConditionalSetting => "per-tensor filters",
        _ => setting.Describe(),
    };
}
