namespace DotnetMerge.Engine;

/// <summary>What kind of anticipated failure stopped a merge; the CLI maps each to an exit code.</summary>
public enum MergeErrorKind
{
    /// <summary>The merge definition is invalid (syntax, schema, method, parameters).</summary>
    Definition,
    /// <summary>An input model is missing, unreadable, malformed or incompatible with the others.</summary>
    Input,
    /// <summary>The output cannot be written (exists without --force, inside an input, disk error).</summary>
    Output,
    /// <summary>The requested compute device is not available.</summary>
    Device,
}

/// <summary>An expected, user-actionable failure: printed as one line, no stack trace.</summary>
public class MergeException : Exception
{
    public MergeException(MergeErrorKind kind, string message, Exception? inner = null) : base(message, inner) => Kind = kind;

    public MergeErrorKind Kind { get; }
}
