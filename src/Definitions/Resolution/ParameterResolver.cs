namespace DotnetMerge.Definitions;

/// <summary>Finds the value of a parameter for one tensor, following mergekit's precedence.</summary>
public static class ParameterResolver
{
    /// <summary>Precedence: the source's parameters (per-model parameters only), the slice's parameters, its module's
    /// parameters (<see cref="OutputSlice.ModuleParameters"/>, <c>modules:</c> syntax), the top-level parameters, then the descriptor's default. A level whose setting evaluates to null (e.g. no filter matches) falls
    /// through. Returns null when nothing sets the parameter and it has no default.
    /// Pass the OUTPUT tensor name for method-wide parameters and the model's INPUT tensor name for per-model ones.</summary>
    public static object? Resolve(MergeDefinition definition, MethodDescriptor method, ParameterDescriptor parameter,
        OutputSlice slice, SliceSource? source, string tensorName, double t)
    {
        if (definition is null) throw new ArgumentNullException(nameof(definition));
        if (method is null) throw new ArgumentNullException(nameof(method));
        if (parameter is null) throw new ArgumentNullException(nameof(parameter));
        if (slice is null) throw new ArgumentNullException(nameof(slice));
        var name = parameter.Name;
        if (parameter.Scope == ParameterScope.PerModel && source is not null
            && source.Parameters.Evaluate(name, tensorName, t) is { } fromSource)
            return fromSource;
        return slice.Parameters.Evaluate(name, tensorName, t)
            ?? slice.ModuleParameters.Evaluate(name, tensorName, t)
            ?? definition.Parameters.Evaluate(name, tensorName, t)
            ?? parameter.Default;
    }

    /// <summary>Position t of a layer in its output slice: i/(L−1), or 1 for a one-layer slice.
    /// Tensors outside the layers (embeddings, final norm, lm_head) use t = 0; with <c>models:</c>, a tensor of another numbered
    /// stack (a vision tower) is placed in its own stack by the same rule (the engine's LayerLayout).</summary>
    public static double LayerPosition(int indexInSlice, int sliceLayerCount)
    {
        if (sliceLayerCount <= 0) throw new ArgumentOutOfRangeException(nameof(sliceLayerCount));
        if (indexInSlice < 0 || indexInSlice >= sliceLayerCount) throw new ArgumentOutOfRangeException(nameof(indexInSlice));
        return sliceLayerCount == 1 ? 1.0 : (double)indexInSlice / (sliceLayerCount - 1);
    }
}
