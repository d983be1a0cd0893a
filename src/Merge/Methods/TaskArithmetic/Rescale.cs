namespace DotnetMerge.Methods;

/// <summary>How a sparsified task vector is scaled back up.</summary>
public enum RescaleMode
{
    /// <summary>Kept entries are used as they are (<c>rescale: false</c> / <c>none</c>).</summary>
    None,
    /// <summary>mergekit's rule (<c>rescale: true</c> / <c>l1</c>): multiply the kept entries by ‖δ‖₁ / ‖kept δ‖₁
    /// over the whole tensor (skipped when either norm is below <see cref="Rescale.MinimumNorm"/>).</summary>
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

    /// <summary>Below this L1 norm (of a task vector, or of what its pruner keeps) the kept entries are not rescaled
    /// (mergekit's 1e-7).</summary>
    public const double MinimumNorm = 1e-7;

    /// <summary>The <c>rescale: l1</c> factor of a pruned task vector: ‖δ‖₁ / ‖kept δ‖₁ when both are at least
    /// <see cref="MinimumNorm"/>, else 1. The GPU plan reads it from here.</summary>
    public static double L1Scale(double deltaNorm, double keptNorm)
        => deltaNorm >= MinimumNorm && keptNorm >= MinimumNorm ? deltaNorm / keptNorm : 1;
}
