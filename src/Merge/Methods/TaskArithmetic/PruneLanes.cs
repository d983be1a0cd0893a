using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DotnetMerge.Kernels;
using DotnetMerge.Selection;

namespace DotnetMerge.Methods;

/// <summary>The keep / drop test of a pruner on a vector of float32 task-vector lanes, for the one-pass kernels:
/// either a magnitude selection (keep the elements of one <see cref="TopSet"/> that are not in another, by |δ| and
/// element index) or a replay of recorded decisions (one bit per element, kept = 1). Dropped lanes become +0.0,
/// exactly what the chunk form <see cref="Apply(long, Span{float})"/> (and the scalar rule) writes.</summary>
internal readonly struct PruneLanes
{
    /// <summary>Elements per chunk of the pass that records random decisions (a whole number of 64-bit words).</summary>
    public const int DecisionChunk = 1 << 16;

    private static readonly Vector<int> LaneIndex = Vector<int>.Indices;
    private static readonly Vector<int> LaneBits = new([.. Enumerable.Range(0, Vector<int>.Count).Select(l => 1 << l)]);

    private readonly ulong[]? _kept;
    private readonly uint _keepKey, _removeKey;
    private readonly long _keepTie, _removeTie;
    private readonly bool _hasRemove;

    private PruneLanes(ulong[]? kept, TopSet keep, TopSet remove)
    {
        // The kernels that use these lanes are compiled on their first call, after this runs: with the lane constants
        // already initialised, they are folded in, with no initialisation checks (and their spills) in the loops.
        RuntimeHelpers.RunClassConstructor(typeof(PruneLanes).TypeHandle);
        _kept = kept;
        _keepKey = keep.ThresholdKey;
        _keepTie = keep.LastTieIndex;
        _removeKey = remove.ThresholdKey;
        _removeTie = remove.LastTieIndex;
        // TopSet.None holds no element (its key is above every |δ| key and its last tie index is -1): skip the test.
        _hasRemove = remove != TopSet.None;
    }

    /// <summary>Keeps the elements of <paramref name="keep"/> that are not in <paramref name="remove"/>.</summary>
    public static PruneLanes Select(TopSet keep, TopSet remove) => new(null, keep, remove);

    /// <summary>Keeps element e iff bit e % 64 of word e / 64 of <paramref name="kept"/> is set.</summary>
    public static PruneLanes Replay(ulong[] kept) => new(kept, TopSet.None, TopSet.None);

    /// <summary>Lanes [index, index + Count) of a task vector, the dropped ones set to +0.0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector<float> Apply(Vector<float> delta, long index)
    {
        if (_kept is not null) return Select(delta, ReplayMask(_kept, index), keepInside: true);
        var key = (Vector.AsVectorUInt32(delta) & new Vector<uint>(0x7FFF_FFFFu)) | new Vector<uint>(0x8000_0000u); // SortKey(|δ|)
        var kept = Filter(delta, key, _keepKey, _keepTie, index, keepInside: true);
        return _hasRemove ? Filter(kept, key, _removeKey, _removeTie, index, keepInside: false) : kept;
    }
    /// <summary>Element <paramref name="index"/> of a task vector, +0.0 when dropped.</summary>
    public float Apply(float delta, long index)
    {
        bool kept;
        if (_kept is not null) kept = ((_kept[index >> 6] >> (int)(index & 63)) & 1) != 0;
        else
        {
            uint key = MagnitudeSelect.SortKey(MathF.Abs(delta));
            kept = (key > _keepKey || (key == _keepKey && index <= _keepTie))
                && !(_hasRemove && (key > _removeKey || (key == _removeKey && index <= _removeTie)));
        }
        return kept ? delta : 0f;
    }

    /// <summary>Zeroes the dropped entries of <paramref name="delta"/>, the task-vector elements [start, start + length).</summary>
    public void Apply(long start, Span<float> delta)
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated)
            for (; j <= delta.Length - Vector<float>.Count; j += Vector<float>.Count)
                Apply(new Vector<float>(delta.Slice(j)), start + j).CopyTo(delta.Slice(j));
        for (; j < delta.Length; j++) delta[j] = Apply(delta[j], start + j);
    }

    /// <summary>The lanes of <paramref name="delta"/> that are in the set (key above the threshold, or equal with index ≤
    /// the last tie) when <paramref name="keepInside"/>, else those outside it; +0.0 in the others. Each branch of the tie
    /// test ends in its own select, so with AVX-512 the compare's mask register feeds the select directly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Filter(Vector<float> delta, Vector<uint> key, uint thresholdKey, long lastTie, long index, bool keepInside)
    {
        var threshold = new Vector<uint>(thresholdKey);
        // lane l is element index + l: index + l ≤ lastTie ⟺ l ≤ lastTie − index. Mostly every lane or none passes.
        long tie = lastTie - index;
        if (tie >= Vector<int>.Count - 1) return Select(delta, Vector.AsVectorInt32(Vector.GreaterThanOrEqual(key, threshold)), keepInside);
        if (tie < 0) return Select(delta, Vector.AsVectorInt32(Vector.GreaterThan(key, threshold)), keepInside);
        return Select(delta, Vector.AsVectorInt32(Vector.GreaterThan(key, threshold))
            | (Vector.AsVectorInt32(Vector.Equals(key, threshold)) & Vector.LessThanOrEqual(LaneIndex, new Vector<int>((int)tie))), keepInside);
    }

    /// <summary><paramref name="delta"/> where <paramref name="mask"/> is all ones (or, unless <paramref name="keepInside"/>,
    /// where it is zero), +0.0 elsewhere.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Select(Vector<float> delta, Vector<int> mask, bool keepInside)
        => keepInside ? MaskedLanes.KeepWhere(delta, mask) : MaskedLanes.ZeroWhere(delta, mask);

    /// <summary>All ones in the lanes whose decision bit is set (a vector may straddle two words).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<int> ReplayMask(ulong[] kept, long index)
    {
        int shift = (int)(index & 63);
        long word = index >> 6;
        ulong bits = kept[word] >> shift;
        if (shift + Vector<int>.Count > 64) bits |= kept[word + 1] << (64 - shift);
        return Vector.Equals(new Vector<int>((int)bits) & LaneBits, LaneBits);
    }
}
