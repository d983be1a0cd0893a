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

/// <summary>An expected, user-actionable failure: printed as one line, no stack trace. <see cref="Exception.Message"/>
/// starts with the DMRG id (<c>DMRG0701: model './a' not found: ...</c>), so a log line says what kind of failure it
/// was; <see cref="Id"/> and <see cref="Detail"/> hold the two parts (ids: <see cref="ErrorIds"/>).</summary>
public class MergeException : Exception
{
    public MergeException(MergeErrorKind kind, string id, string message, Exception? inner = null)
        : base($"{id}: {message}", inner)
    {
        Kind = kind;
        Id = id;
        Detail = message;
    }

    /// <summary>For subclasses whose printed message is not <c>id: detail</c> (a list of located diagnostics, each
    /// with its own id: <paramref name="id"/> is then the first error's).</summary>
    protected MergeException(MergeErrorKind kind, string id, string detail, string message, Exception? inner)
        : base(message, inner)
    {
        Kind = kind;
        Id = id;
        Detail = detail;
    }

    public MergeErrorKind Kind { get; }

    /// <summary>The DMRG id of the failure (documented in docs/configuration.md).</summary>
    public string Id { get; }

    /// <summary>The message without its id.</summary>
    public string Detail { get; }

    /// <summary>The same failure (kind and id) with <paramref name="prefix"/> before its detail: a location or the
    /// stage it happened in.</summary>
    public MergeException WithPrefix(string prefix) => new(Kind, Id, prefix + Detail, this);
}
