using System.Runtime.CompilerServices;

namespace DotnetMerge.Selection;

/// <summary>A selection request: the <see cref="Count"/> largest elements of stream <see cref="Stream"/>.</summary>
public readonly record struct SelectQuery(int Stream, long Count);

/// <summary>The <see cref="Count"/> largest elements of a float stream under a strict total order:
/// larger value first and, among equal values, the lower element index first (what a stable descending sort gives).
/// Membership is "value above the threshold, or equal to it with an index up to <see cref="LastTieIndex"/>".</summary>
public readonly record struct TopSet(long Count, uint ThresholdKey, long LastTieIndex)
{
    /// <summary>No element.</summary>
    public static TopSet None { get; } = new(0, uint.MaxValue, -1);

    /// <summary>Every element of a stream of <paramref name="length"/> elements.</summary>
    public static TopSet All(long length) => new(length, 0, long.MaxValue);

    /// <summary>The smallest value in the set (the k-th largest of the stream).</summary>
    public float Threshold => MagnitudeSelect.FromSortKey(ThresholdKey);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Contains(float value, long index)
    {
        uint key = MagnitudeSelect.SortKey(value);
        return key > ThresholdKey || (key == ThresholdKey && index <= LastTieIndex);
    }
}
