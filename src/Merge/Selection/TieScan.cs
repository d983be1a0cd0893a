using System.Numerics;
using System.Runtime.InteropServices;

namespace DotnetMerge.Selection;

/// <summary>The tie scan of a selection: where the last kept copy of a duplicated threshold key lies. A pass counts the
/// key's copies per chunk (or per GPU tile); <see cref="ChunkOf"/> walks those counts to the chunk holding the wanted
/// copy; <see cref="IndexOf"/> finds it inside that chunk's values.</summary>
public static class TieScan
{
    /// <summary>The chunk holding the <paramref name="occurrence"/>-th copy (1-based, in index order) given the copies per
    /// chunk, and which copy of that chunk it is (1-based).</summary>
    public static (long Chunk, long Within) ChunkOf(ReadOnlySpan<long> perChunk, long occurrence)
    {
        long seen = 0;
        for (int c = 0; c < perChunk.Length; c++)
        {
            if (seen + perChunk[c] >= occurrence) return (c, occurrence - seen);
            seen += perChunk[c];
        }
        throw new InvalidOperationException("the stream changed between selection passes (its tie counts do not add up)");
    }

    /// <summary>The index in <paramref name="values"/> of the <paramref name="occurrence"/>-th value (1-based) whose sort
    /// key is <paramref name="key"/>.</summary>
    public static int IndexOf(ReadOnlySpan<float> values, uint key, long occurrence)
    {
        long seen = 0;
        for (int i = 0; i < values.Length; i++)
            if (MagnitudeSelect.SortKey(values[i]) == key && ++seen == occurrence) return i;
        throw new InvalidOperationException("the stream changed between selection passes (a tie was not found again)");
    }

    /// <summary>How many of <paramref name="values"/> have sort key <paramref name="key"/>.</summary>
    public static long CountKey(ReadOnlySpan<float> values, uint key)
    {
        // SortKey(v) == key  ⇔  bits(v) == MagnitudeSelect.FromSortKey(key) bits: compare raw bits, a lane at a time in vectors.
        uint bits = BitConverter.SingleToUInt32Bits(MagnitudeSelect.FromSortKey(key));
        var u = MemoryMarshal.Cast<float, uint>(values);
        long count = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var want = new Vector<uint>(bits);
            var lanes = Vector<int>.Zero;
            for (; i <= u.Length - Vector<uint>.Count; i += Vector<uint>.Count)
                lanes -= Vector.AsVectorInt32(Vector.Equals(new Vector<uint>(u.Slice(i)), want)); // −1 per match
            count = Vector.Sum(lanes);
        }
        for (; i < u.Length; i++) if (u[i] == bits) count++;
        return count;
    }
}
