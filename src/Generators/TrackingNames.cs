namespace DotnetMerge.Generators;

/// <summary>Names of the tracked pipeline steps (the caching tests look them up).</summary>
internal static class TrackingNames
{
    public const string Definitions = "Definitions";
    public const string Parsed = "Parsed";
    public const string Diagnostics = "Diagnostics";
    public const string Plans = "Plans";
    public const string Clashes = "Clashes";
}
