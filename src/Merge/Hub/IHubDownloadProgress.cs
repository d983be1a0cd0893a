namespace DotnetMerge.Hub;

/// <summary>Told of each file downloaded from the hub (only files whose bytes actually travel: cached files and header
/// reads are not downloads). Calls come from several download tasks at once.</summary>
public interface IHubDownloadProgress
{
    /// <summary>A download of <paramref name="size"/> bytes starts, <paramref name="resumedFrom"/> of them already on disk
    /// from an earlier, interrupted download.</summary>
    void DownloadStarted(HubModelId model, string file, long size, long resumedFrom);

    /// <summary>More bytes of <paramref name="file"/> were written to the cache.</summary>
    void DownloadReceived(HubModelId model, string file, long bytes);

    /// <summary>The file is complete and verified: <paramref name="bytes"/> travelled in <paramref name="elapsed"/>.</summary>
    void DownloadFinished(HubModelId model, string file, long bytes, TimeSpan elapsed);
}
