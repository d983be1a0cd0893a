namespace DotnetMerge.Engine;

/// <summary>How the engine's messages name an option a user can set: the command line's flag, then the library's
/// property, so one message reads right from <c>dotnet merge</c> and from the API (typed plans, the library).</summary>
internal static class OptionNames
{
    public const string AllowCrimes = "--allow-crimes (MergeOptions.AllowCrimes)";
    public const string MaxMemory = "--max-memory (MergeOptions.MaxMemoryBytes)";
    public const string ForceBase = "--force-base (ApplyOptions.ForceBase)";
    public const string Offline = "--offline (HubSettings.Offline)";
}
