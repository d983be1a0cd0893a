namespace DotnetMerge.Plans;

/// <summary>A model a typed plan mentions: its reference as written in the definition (<c>path[@revision]</c>) and the
/// C# name the generator gave it.</summary>
/// <param name="Reference">The model reference in string form, as in the YAML.</param>
/// <param name="Name">The member name in the generated plan (from the directory name).</param>
/// <param name="IsBase">True for a base model (<c>base_model</c>).</param>
public sealed record PlanModel(string Reference, string Name, bool IsBase = false)
{
    public override string ToString() => Reference;
}
