using System.Globalization;

namespace DotnetMerge.Safetensors;

/// <summary>Parses and prints shard size limits such as <c>5B</c> (mergekit), <c>5GB</c> or <c>4.5GiB</c>.</summary>
public static class ShardSize
{
    private const string AcceptedForms =
        "accepted: a byte count (5000000000), K/M/B (x1e3/1e6/1e9, mergekit style: 5B = 5,000,000,000), " +
        "KB/MB/GB/TB (powers of 1000) or KiB/MiB/GiB/TiB (powers of 1024), decimals allowed (1.5GB)";

    private static readonly (string Suffix, decimal Factor)[] Units =
    [
        ("KIB", 1024m), ("MIB", 1024m * 1024), ("GIB", 1024m * 1024 * 1024), ("TIB", 1024m * 1024 * 1024 * 1024),
        ("KB", 1e3m), ("MB", 1e6m), ("GB", 1e9m), ("TB", 1e12m),
        ("K", 1e3m), ("M", 1e6m), ("B", 1e9m),
    ];

    /// <summary>Parses a size (case-insensitive suffix, invariant culture). Fractional bytes are rounded down.</summary>
    public static long Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string trimmed = text.Trim();
        string number = trimmed;
        decimal factor = 1;
        foreach (var (suffix, unitFactor) in Units)
        {
            if (trimmed.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                number = trimmed.Substring(0, trimmed.Length - suffix.Length).TrimEnd();
                factor = unitFactor;
                break;
            }
        }
        if (number.Length == 0 || !char.IsAsciiDigit(number[0]) || !char.IsAsciiDigit(number[^1])
            || !decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal value)
            || (factor == 1 && decimal.Truncate(value) != value))
            throw new FormatException($"invalid shard size '{text}' ({AcceptedForms})");
        try
        {
            decimal bytes = decimal.Floor(value * factor);
            if (bytes > long.MaxValue) throw new OverflowException();
            return (long)bytes;
        }
        catch (OverflowException)
        {
            throw new FormatException($"shard size '{text}' is too large ({AcceptedForms})");
        }
    }

    /// <summary>Human-readable size in powers of 1000: "999 B", "1.50 GB".</summary>
    public static string Format(long bytes)
    {
        string[] units = ["KB", "MB", "GB", "TB", "PB", "EB"];
        if (Math.Abs(bytes) < 1000) return bytes.ToString(CultureInfo.InvariantCulture) + " B";
        double value = bytes;
        int unit = -1;
        while (Math.Abs(value) >= 1000 && unit < units.Length - 1)
        {
            value /= 1000;
            unit++;
        }
        return value.ToString("0.00", CultureInfo.InvariantCulture) + " " + units[unit];
    }
}
