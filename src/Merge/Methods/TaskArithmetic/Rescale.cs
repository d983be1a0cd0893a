namespace DotnetMerge.Methods;

/// <summary>How a sparsified task vector is scaled back up.</summary>
public enum RescaleMode
{
    /// <summary>Kept entries are used as they are (<c>rescale: false</c> / <c>none</c>).</summary>
    None,
    /// <summary>mergekit's rule (<c>rescale: true</c> / <c>l1</c>): multiply the kept entries by ‖δ‖₁ / ‖kept δ‖₁
    /// over the whole tensor (skipped when either norm is below 1e-7).</summary>
    L1,
    /// <summary>The DARE paper's rule (<c>rescale: inverse</c>, our extension): divide the kept entries by density.</summary>
    Inverse,
}

public static class Rescale
{
    /// <summary>Interprets the resolved <c>rescale</c> parameter (a bool or one of l1 / inverse / none).</summary>
    public static RescaleMode Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "false" or "none" or "0" => RescaleMode.None,
        "true" or "l1" or "1" => RescaleMode.L1,
        "inverse" => RescaleMode.Inverse,
        _ => throw new ArgumentException($"rescale: '{value}' is not one of true, false, l1, inverse, none"),
    };
}
