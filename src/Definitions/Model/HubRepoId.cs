namespace DotnetMerge.Definitions;

/// <summary>The one rule for "can this model path be a Hugging Face model": the validator (which does not warn about a
/// missing local path that may be a hub id), the engine's hub resolution and the model card's <c>base_model:</c> list
/// all ask here.</summary>
public static class HubRepoId
{
    /// <summary>huggingface_hub's repo id rule: an optional namespace and a name, each 1-96 characters of
    /// <c>[A-Za-z0-9_.-]</c> that do not start or end with '-' or '.', with no '--' or '..' anywhere.</summary>
    public static bool IsValid(string id)
    {
        if (id is null) throw new ArgumentNullException(nameof(id));
        if (id.IndexOf("--", StringComparison.Ordinal) >= 0 || id.IndexOf("..", StringComparison.Ordinal) >= 0) return false;
        var parts = id.Split('/');
        if (parts.Length > 2) return false;
        foreach (var part in parts)
        {
            if (part.Length is 0 or > 96) return false;
            if (part[0] is '-' or '.' || part[part.Length - 1] is '-' or '.') return false;
            foreach (var c in part)
                if (!(c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '_' or '.' or '-')) return false;
        }
        return true;
    }

    /// <summary>True when <paramref name="path"/> can name a hub model: a valid id of the <c>org/name</c> form (the hub
    /// moved its namespace-less models under an organisation and redirects them, so a one-word path is a local
    /// directory). Whether a local directory of that name exists is the caller's question: a local path wins.</summary>
    public static bool CanBeModel(string path) => IsValid(path) && path.IndexOf('/') >= 0;
}
