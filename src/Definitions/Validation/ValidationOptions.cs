namespace DotnetMerge.Definitions;

/// <summary>Optional inputs of validation. The library never touches the file system itself.</summary>
public sealed class ValidationOptions
{
    /// <summary>Answers whether a local path exists; when null, local paths are not checked.</summary>
    public Func<string, bool>? PathExists { get; init; }

    /// <summary>Directory that relative local paths are resolved against (usually the definition file's directory).</summary>
    public string? BaseDirectory { get; init; }

    /// <summary>Report a key or parameter name that is a near miss of a real one (DMRG0109, DMRG0312) as a warning (the
    /// name is ignored) instead of an error. Unknown names with no close match are warnings either way.</summary>
    public bool AllowUnknownKeys { get; init; }

    /// <summary>Accept search forms (<c>{search: ...}</c>): set by <c>dotnet merge tune</c>, which fills them in. Without it a
    /// search form is an error (DMRG0330), so that no other command merges a guessed value.</summary>
    public bool AllowSearch { get; init; }
}
