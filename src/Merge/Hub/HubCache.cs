namespace DotnetMerge.Hub;

/// <summary>One repository's folder in the hub cache, in huggingface_hub's layout (reference/hub-adapters-pickle.md B.2-B.7):
/// <c>blobs/&lt;etag&gt;</c> holds the content, <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c> is a relative symlink to it (or a
/// copy where symlinks are not available), <c>refs/&lt;revision&gt;</c> holds the commit a branch or tag pointed at.
/// Python tools reuse what this writes, and this reads what they wrote.</summary>
public sealed class HubCache
{
    public HubCache(string cacheDirectory, HubModelId model)
    {
        CacheDirectory = Path.GetFullPath(cacheDirectory);
        Model = model;
        Folder = Path.Combine(CacheDirectory, model.CacheFolderName);
    }

    public string CacheDirectory { get; }
    public HubModelId Model { get; }

    /// <summary><c>&lt;cache&gt;/models--org--name</c>.</summary>
    public string Folder { get; }

    /// <summary>The commit the revision stands for, without the network: the revision itself when it is a full sha,
    /// else the content of <c>refs/&lt;revision&gt;</c> (trimmed: a hand-copied ref may end with a newline), else null.</summary>
    public string? CachedCommit()
    {
        if (Model.RevisionIsCommit) return Model.Revision;
        var path = RefPath(Model.Revision);
        if (!File.Exists(path)) return null;
        var commit = File.ReadAllText(path).Trim();
        return HubModelId.IsCommit(commit) ? commit : null;
    }

    /// <summary>Records the commit a branch or tag resolved to (nothing for a commit revision), atomically, with no
    /// trailing newline, and only when it changed.</summary>
    public void WriteRef(string commit)
    {
        if (Model.Revision == commit) return;
        var path = RefPath(Model.Revision);
        if (File.Exists(path) && File.ReadAllText(path).Trim() == commit) return;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        File.WriteAllText(temp, commit);
        File.Move(temp, path, overwrite: true);
    }

    public string SnapshotDirectory(string commit) => Path.Combine(Folder, "snapshots", commit);

    /// <summary>A file of the snapshot (which may be a symlink whose blob is gone: then it does not count as present).</summary>
    public string SnapshotFile(string commit, string file) => Path.Combine(SnapshotDirectory(commit), CheckedRelative(file));

    public bool HasFile(string commit, string file) => File.Exists(SnapshotFile(commit, file));

    public string BlobPath(string etag) => Path.Combine(Folder, "blobs", CheckedEtag(etag));

    /// <summary>The partial download of a blob (<c>blobs/&lt;etag&gt;.incomplete</c>, the name huggingface_hub up to 1.17
    /// resumes from too). Only touched while <see cref="LockPath"/> is held.</summary>
    public string IncompletePath(string etag) => BlobPath(etag) + ".incomplete";

    /// <summary><c>&lt;cache&gt;/.locks/models--org--name/&lt;etag&gt;.lock</c>, the lock huggingface_hub takes for the same blob.</summary>
    public string LockPath(string etag) => Path.Combine(CacheDirectory, ".locks", Model.CacheFolderName, CheckedEtag(etag) + ".lock");

    /// <summary>The marker huggingface_hub leaves when the hub said a file does not exist at a commit.</summary>
    public bool KnownMissing(string commit, string file) => File.Exists(Path.Combine(Folder, ".no_exist", commit, CheckedRelative(file)));

    /// <summary>Makes <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c> point at the blob: a relative symlink
    /// (<c>../../blobs/&lt;etag&gt;</c>, one more <c>../</c> per sub-folder), or a copy where symlinks cannot be made.</summary>
    public void Link(string commit, string file, string etag)
    {
        var pointer = SnapshotFile(commit, file);
        var blob = BlobPath(etag);
        Directory.CreateDirectory(Path.GetDirectoryName(pointer)!);
        if (File.Exists(pointer) || new FileInfo(pointer).LinkTarget is not null) File.Delete(pointer);
        try
        {
            File.CreateSymbolicLink(pointer, Path.GetRelativePath(Path.GetDirectoryName(pointer)!, blob));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            File.Copy(blob, pointer, overwrite: true);
        }
    }

    /// <summary>Writes <c>CACHEDIR.TAG</c> at the cache root (backup tools skip the folder), as recent huggingface_hub does.</summary>
    public void EnsureCacheDirectoryTag()
    {
        var tag = Path.Combine(CacheDirectory, "CACHEDIR.TAG");
        if (File.Exists(tag)) return;
        Directory.CreateDirectory(CacheDirectory);
        try
        {
            File.WriteAllText(tag, "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by dotnet-merge (Hugging Face hub cache).\n");
        }
        catch (IOException) { /* another process wrote it at the same time */ }
    }

    private string RefPath(string revision) => Path.Combine(Folder, "refs", CheckedRelative(revision));

    /// <summary>A repo file name or revision used as a path: no absolute path, drive, backslash or '..' segment may
    /// leave the repository folder (huggingface_hub rejects the same names).</summary>
    internal static string CheckedRelative(string name)
    {
        if (name.Length == 0 || Path.IsPathRooted(name) || name.IndexOf('\\') >= 0 || name.IndexOf(':') >= 0
            || name.Split('/').Any(s => s.Length == 0 || s == "." || s == ".."))
            throw new HubException(HubFailure.BadReference, $"'{name}' is not a safe file name inside a repository");
        return name.Replace('/', Path.DirectorySeparatorChar);
    }

    private static string CheckedEtag(string etag)
    {
        if (etag.Length == 0 || !etag.All(char.IsAsciiLetterOrDigit))
            throw new HubException(HubFailure.Protocol, $"the hub sent an unusable ETag '{etag}'");
        return etag;
    }
}
