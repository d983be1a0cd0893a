namespace DotnetMerge.Definitions;

/// <summary>A model input: a local directory or a Hugging Face repo id, an optional revision and an optional LoRA adapter.
/// String form: <c>path[@revision][+lora[@revision]]</c>. Equality ignores <see cref="Location"/>.</summary>
public sealed class ModelReference : IEquatable<ModelReference>
{
    public ModelReference(string path, string? revision = null, string? loraPath = null, string? loraRevision = null)
    {
        Path = path ?? throw new ArgumentNullException(nameof(path));
        Revision = revision;
        LoraPath = loraPath;
        LoraRevision = loraRevision;
    }

    public string Path { get; }

    public string? Revision { get; }

    public string? LoraPath { get; }

    public string? LoraRevision { get; }

    /// <summary>mergekit's <c>override_architecture</c> (dict form only); not used by dotnet-merge yet.</summary>
    public string? OverrideArchitecture { get; init; }

    public SourceLocation Location { get; init; }

    public bool HasLora => LoraPath is not null;

    /// <summary>Reads the string form. Returns false (and an explanation) for text mergekit cannot parse either:
    /// more than one '+', more than one '@' in a part, or an empty path.</summary>
    public static bool TryParse(string text, out ModelReference? reference, out string? error)
    {
        reference = null;
        error = null;
        var parts = (text ?? string.Empty).Split('+');
        if (parts.Length > 2)
        {
            error = "it has more than one '+' (the form is path[@revision][+lora[@revision]])";
            return false;
        }

        if (!TrySplitRevision(parts[0], "model path", out var path, out var revision, out error))
            return false;
        string? loraPath = null, loraRevision = null;
        if (parts.Length == 2 && !TrySplitRevision(parts[1], "LoRA path", out loraPath, out loraRevision, out error))
            return false;
        reference = new ModelReference(path!, revision, loraPath, loraRevision);
        return true;
    }

    /// <summary>Reads the string form or throws <see cref="FormatException"/>.</summary>
    public static ModelReference Parse(string text)
        => TryParse(text, out var reference, out var error) ? reference! : throw new FormatException("cannot read the model reference '" + text + "': " + error);

    private static bool TrySplitRevision(string part, string what, out string? path, out string? revision, out string? error)
    {
        path = revision = error = null;
        var pieces = part.Split('@');
        if (pieces.Length > 2)
        {
            error = "the " + what + " has more than one '@'";
            return false;
        }

        path = pieces[0].Trim();
        if (path.Length == 0)
        {
            error = "the " + what + " is empty";
            return false;
        }

        if (pieces.Length == 2)
        {
            revision = pieces[1].Trim();
            if (revision.Length == 0)
            {
                error = "the revision after '@' is empty";
                return false;
            }
        }

        return true;
    }

    public bool Equals(ModelReference? other) => other is not null
        && string.Equals(Path, other.Path, StringComparison.Ordinal)
        && string.Equals(Revision, other.Revision, StringComparison.Ordinal)
        && string.Equals(LoraPath, other.LoraPath, StringComparison.Ordinal)
        && string.Equals(LoraRevision, other.LoraRevision, StringComparison.Ordinal);

    public override bool Equals(object? obj) => Equals(obj as ModelReference);

    public override int GetHashCode()
    {
        unchecked
        {
            var h = StringComparer.Ordinal.GetHashCode(Path);
            h = (h * 397) ^ (Revision is null ? 0 : StringComparer.Ordinal.GetHashCode(Revision));
            h = (h * 397) ^ (LoraPath is null ? 0 : StringComparer.Ordinal.GetHashCode(LoraPath));
            return (h * 397) ^ (LoraRevision is null ? 0 : StringComparer.Ordinal.GetHashCode(LoraRevision));
        }
    }

    public static bool operator ==(ModelReference? left, ModelReference? right) => left is null ? right is null : left.Equals(right);

    public static bool operator !=(ModelReference? left, ModelReference? right) => !(left == right);

    /// <summary>The string form <c>path[@revision][+lora[@revision]]</c>.</summary>
    public override string ToString()
    {
        var text = Revision is null ? Path : Path + "@" + Revision;
        if (LoraPath is not null)
            text += "+" + (LoraRevision is null ? LoraPath : LoraPath + "@" + LoraRevision);
        return text;
    }
}
