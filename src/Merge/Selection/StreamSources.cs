namespace DotnetMerge.Selection;

/// <summary>Produces elements [start, start + destination.Length) of a float stream (e.g. |x − base| of one model).</summary>
public delegate void FloatSource(long start, Span<float> destination);

/// <summary>Produces elements [start, start + length) of several float streams at once, one per destination buffer.</summary>
public delegate void StreamsSource(long start, int length, float[][] destinations);

/// <summary>The bracket pass of one stream over elements [start, start + length) straight from the stream's stored
/// form (see <see cref="MagnitudeSelect.ScanBracketBf16Delta"/>): the counts above the bracket and at its two ends, and
/// (key &lt;&lt; 32 | index) of the keys inside it appended in index order; the same as scanning the stream's floats.</summary>
public delegate (long Above, long AtHigh, long AtLow) BracketScan(int stream, long start, int length, uint high, uint low, List<ulong> found);
