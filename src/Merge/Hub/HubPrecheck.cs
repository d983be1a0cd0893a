using DotnetMerge.Definitions;
using DotnetMerge.Engine;
using DotnetMerge.Planning;

namespace DotnetMerge.Hub;

/// <summary>Check before download: a definition that names hub models is first planned on their headers only
/// (<see cref="HubSettings.HeadersOnly"/>), so every check of the merge runs on kilobytes; the weights are downloaded
/// only when that passes.</summary>
public static class HubPrecheck
{
    /// <summary>The options for checking without downloading weights (<c>check</c>, <c>plan</c>, and the first pass of a run).</summary>
    public static MergeOptions ForChecking(MergeOptions options, CancellationToken cancellation = default)
        => options with { Hub = (options.Hub ?? HubSettings.FromEnvironment()) with
        {
            HeadersOnly = true, Cancellation = cancellation, Downloads = options.Hub?.Downloads ?? new HubDownloadLedger(),
        } };

    /// <summary>The options with downloads tied to <paramref name="cancellation"/> (Ctrl+C keeps the partial file for resume),
    /// reported to <paramref name="progress"/> when it shows downloads too (the tool's progress display does).</summary>
    public static MergeOptions Cancellable(MergeOptions options, CancellationToken cancellation, object? progress = null)
    {
        var hub = options.Hub ?? HubSettings.FromEnvironment();
        return options with { Hub = hub with { Cancellation = cancellation, Progress = hub.Progress ?? progress as IHubDownloadProgress } };
    }

    /// <summary>True when a run should plan on headers first: some model is a hub id and the network may be used.</summary>
    public static bool Needed(MergeDefinition definition, MergeOptions options)
        => options.Hub is not { HeadersOnly: true } and not { Offline: true }
           && MergePlanner.ReferencedModels(definition).Any(r => HubModelId.TryCreate(r.Path, r.Revision) is not null);
}
