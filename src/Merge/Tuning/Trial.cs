using System.Globalization;

namespace DotnetMerge.Tuning;

/// <summary>One scored (or refused) candidate: its number (from 1), its unit-cube point, the values written into the
/// definition, and the evaluator's score; <see cref="Invalid"/> holds why a candidate was no valid definition.</summary>
public sealed record Trial(int Number, double[] Point, object[] Values, double? Score, string? Invalid, double Seconds)
{
    public static string FormatScore(double? score) => score is { } s ? (s == 0 ? 0.0 : s).ToString("G6", CultureInfo.InvariantCulture) : "—"; // no "-0"
}

/// <summary>What a search found.</summary>
public sealed record TuneResult(string OutputDirectory, string Strategy, IReadOnlyList<string> Labels, IReadOnlyList<Trial> Trials,
    Trial Best, int Evaluated, int Resumed, string LogPath);
