using DotnetMerge.Engine;

namespace DotnetMerge.Hub;

/// <summary>What went wrong while getting a model from the hub.</summary>
public enum HubFailure
{
    /// <summary>The repository, revision or file does not exist, or the repo is gated/private and the token does not open it.</summary>
    BadReference,
    /// <summary>Offline (HF_HUB_OFFLINE / --offline) and the cache does not hold what the merge needs.</summary>
    NotCached,
    /// <summary>The hub could not be reached or kept failing after the retries.</summary>
    Network,
    /// <summary>A downloaded file does not have the size or hash the hub announced.</summary>
    Integrity,
    /// <summary>The server's answer is not what the hub protocol says (a proxy in the way, a broken mirror).</summary>
    Protocol,
    /// <summary>The cache cannot be written (disk full, permissions).</summary>
    Disk,
}

/// <summary>A hub failure a user can act on. Disk problems are output errors (exit 5), the rest input errors (exit 3).</summary>
public sealed class HubException : MergeException
{
    public HubException(HubFailure failure, string message, Exception? inner = null)
        : base(failure == HubFailure.Disk ? MergeErrorKind.Output : MergeErrorKind.Input, IdOf(failure), message, inner) => Failure = failure;

    public HubFailure Failure { get; }

    /// <summary>One DMRG id per kind of hub failure (DMRG0610-0615), so a script can tell a typo from a network
    /// problem.</summary>
    public static string IdOf(HubFailure failure) => failure switch
    {
        HubFailure.BadReference => ErrorIds.HubReference,
        HubFailure.NotCached => ErrorIds.HubNotCached,
        HubFailure.Network => ErrorIds.HubNetwork,
        HubFailure.Integrity => ErrorIds.HubIntegrity,
        HubFailure.Protocol => ErrorIds.HubProtocol,
        HubFailure.Disk => ErrorIds.HubDisk,
        _ => throw new ArgumentOutOfRangeException(nameof(failure), failure, null),
    };
}
