using DotnetMerge.Kernels;

namespace DotnetMerge.Methods;

/// <summary>A merge method computes one output tensor from the inputs of one tensor job.
/// The method's name, arity, parameters and vocabulary rule are described by the catalog in
/// DotnetMerge.Definitions (the single source of truth); the implementation only does the math.
/// Inputs arrive already cropped to the output shape (the planner applies the catalog's vocabulary rule).</summary>
public interface IMergeMethod
{
    /// <summary>Name as written in <c>merge_method:</c>.</summary>
    string Name { get; }

    /// <summary>Computes the output of <paramref name="context"/> into context.Output.</summary>
    void Merge(TensorMergeContext context);
}
