using DotnetMerge.Definitions;

namespace DotnetMerge.Hub;

/// <summary>A Hugging Face model repository at a revision (<c>org/name[@revision]</c>). The revision is a branch, a tag,
/// a full commit sha or a ref such as <c>refs/pr/3</c>; it defaults to <c>main</c>.</summary>
public sealed record HubModelId
{
    public const string DefaultRevision = "main";

    private HubModelId(string repoId, string revision) { RepoId = repoId; Revision = revision; }

    /// <summary><c>org/name</c>.</summary>
    public string RepoId { get; }

    /// <summary>The revision as written (<c>main</c> when none was given).</summary>
    public string Revision { get; }

    /// <summary>True when the revision is a full lowercase commit sha: only then is it used without asking the hub or
    /// reading a ref (huggingface_hub's rule; a short or uppercase sha is a ref name to the hub).</summary>
    public bool RevisionIsCommit => IsCommit(Revision);

    /// <summary>The repository's folder in the cache: <c>models--org--name</c>.</summary>
    public string CacheFolderName => "models--" + RepoId.Replace("/", "--", StringComparison.Ordinal);

    public override string ToString() => Revision == DefaultRevision ? RepoId : RepoId + "@" + Revision;

    /// <summary>A hub id for a model path, or null when the path cannot be one. Only the <c>org/name</c> form counts
    /// (the hub moved its namespace-less models under an organisation and redirects them), so a missing one-word
    /// local directory stays a missing local directory.</summary>
    public static HubModelId? TryCreate(string path, string? revision)
    {
        if (!HubRepoId.CanBeModel(path)) return null;
        return new HubModelId(path, string.IsNullOrEmpty(revision) ? DefaultRevision : revision);
    }

    /// <summary>Why a revision cannot be used (a path that leaves <c>refs/</c>, a backslash, blanks), or null.</summary>
    public static string? RevisionProblem(string revision)
    {
        if (revision.Any(char.IsWhiteSpace) || revision.IndexOf('\\') >= 0)
            return $"revision '{revision}' contains a blank or a backslash";
        if (revision.Split('/').Any(s => s.Length == 0 || s == "." || s == ".."))
            return $"revision '{revision}' has an empty, '.' or '..' path segment";
        return null;
    }

    /// <summary>huggingface_hub's repo id rule (<see cref="HubRepoId.IsValid"/>).</summary>
    public static bool IsValidRepoId(string id) => HubRepoId.IsValid(id);

    public static bool IsCommit(string revision)
        => revision.Length == 40 && revision.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');
}
