namespace DotnetMerge.Generators.Model;

/// <summary>One definition file as the generator sees it: path, text and the MSBuild settings that apply to it.</summary>
/// <param name="Path">The AdditionalFiles path (absolute in real builds).</param>
/// <param name="Text">The YAML text.</param>
/// <param name="PlanName">The <c>PlanName</c> item metadata (class name), or null for the default.</param>
/// <param name="RootNamespace">The project's <c>RootNamespace</c> ("" = global namespace).</param>
/// <param name="CheckModelPaths">Whether local model paths are checked for existence (<c>DotnetMergeCheckModelPaths</c>).</param>
/// <param name="ProjectDirectory">The project's directory (<c>ProjectDir</c>, which the SDK passes to generators), or null.</param>
internal sealed record PlanInput(string Path, string Text, string? PlanName, string RootNamespace, bool CheckModelPaths, string? ProjectDirectory = null);
