using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text;

namespace DotnetMerge.Kernels;

/// <summary>The counter-based random stream shared by every backend (CPU and CUDA must agree bit for bit):
/// Philox4x32-10 (Salmon et al., SC 2011). Element <c>e</c> of output tensor <c>name</c> for the input at model index
/// <c>m</c> with run seed <c>s</c> uses key <c>((uint)s, (uint)(s &gt;&gt; 32))</c>, counter
/// <c>((uint)(e &gt;&gt; 2), (uint)(e &gt;&gt; 34), m, Fnv1a32(name))</c> and lane <c>e &amp; 3</c> of the block;
/// the 32-bit word <c>u</c> becomes the float <c>(u &gt;&gt; 8) · 2^-24</c> in [0, 1).
/// A Bernoulli(p) draw keeps the element iff <c>uniform &lt; p</c> (compared in double precision).</summary>
public static class Philox
{
    public const uint Multiplier0 = 0xD2511F53;
    public const uint Multiplier1 = 0xCD9E8D57;
    public const uint Weyl0 = 0x9E3779B9;
    public const uint Weyl1 = 0xBB67AE85;
    private const float TwoToMinus24 = 1f / (1 << 24);

    /// <summary>One Philox4x32-10 block: ten rounds on the counter, bumping the key between rounds.
    /// Pure, branch-free arithmetic on 32-bit words (the same code shape as the CUDA kernel).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint X0, uint X1, uint X2, uint X3) Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = (ulong)Multiplier0 * c0;
            ulong p1 = (ulong)Multiplier1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0;
            uint hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
            k0 += Weyl0;
            k1 += Weyl1;
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>The 32-bit FNV-1a hash of the UTF-8 bytes of <paramref name="text"/> (tensor names in the counter).</summary>
    public static uint Fnv1a32(string text)
    {
        uint hash = 2166136261;
        Span<byte> buffer = text.Length <= 256 ? stackalloc byte[Encoding.UTF8.GetMaxByteCount(text.Length)] : new byte[Encoding.UTF8.GetMaxByteCount(text.Length)];
        int count = Encoding.UTF8.GetBytes(text, buffer);
        foreach (byte b in buffer[..count]) hash = (hash ^ b) * 16777619;
        return hash;
    }

    /// <summary>The uniform float in [0, 1) for one element of the stream.</summary>
    public static float Uniform(ulong seed, uint modelIndex, uint nameHash, long element)
    {
        ulong block = (ulong)element >> 2;
        var (x0, x1, x2, x3) = Block((uint)block, (uint)(block >> 32), modelIndex, nameHash, (uint)seed, (uint)(seed >> 32));
        uint u = (element & 3) switch { 0 => x0, 1 => x1, 2 => x2, _ => x3 };
        return ToUniform(u);
    }

    /// <summary>Fills <paramref name="destination"/> with the uniforms of elements [start, start + destination.Length).</summary>
    public static void FillUniform(ulong seed, uint modelIndex, uint nameHash, long start, Span<float> destination)
    {
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
        int i = 0;
        long element = start;
        // Head up to a block boundary, then whole groups of blocks computed in SIMD lanes, then the tail.
        int head = (int)Math.Min(destination.Length, (4 - (element & 3)) & 3);
        FillScalar(k0, k1, modelIndex, nameHash, element, destination[..head]);
        i = head; element += head;
        if (Avx512F.IsSupported)
        {
            int done = FillVector512(k0, k1, modelIndex, nameHash, element, destination[i..]);
            i += done; element += done;
        }
        if (Avx2.IsSupported)
        {
            int done = FillVector256(k0, k1, modelIndex, nameHash, element, destination[i..]);
            i += done; element += done;
        }
        FillScalar(k0, k1, modelIndex, nameHash, element, destination[i..]);
    }

    private static void FillScalar(uint k0, uint k1, uint modelIndex, uint nameHash, long element, Span<float> destination)
    {
        int i = 0;
        while (i < destination.Length)
        {
            ulong block = (ulong)element >> 2;
            var (x0, x1, x2, x3) = Block((uint)block, (uint)(block >> 32), modelIndex, nameHash, k0, k1);
            int lane = (int)(element & 3);
            if (lane == 0 && destination.Length - i >= 4)
            {
                destination[i] = ToUniform(x0);
                destination[i + 1] = ToUniform(x1);
                destination[i + 2] = ToUniform(x2);
                destination[i + 3] = ToUniform(x3);
                i += 4; element += 4;
                continue;
            }
            for (; lane < 4 && i < destination.Length; lane++, i++, element++)
                destination[i] = ToUniform(lane switch { 0 => x0, 1 => x1, 2 => x2, _ => x3 });
        }
    }

    /// <summary>Sixteen blocks (64 elements) per step, one block per 64-bit lane (see <see cref="Words512"/>).
    /// <paramref name="element"/> is a multiple of 4. Returns the number of elements written (a multiple of 64).</summary>
    private static int FillVector512(uint k0, uint k1, uint modelIndex, uint nameHash, long element, Span<float> destination)
    {
        int groups = destination.Length / 64;
        if (groups == 0) return 0;
        var c2Start = Vector512.Create((ulong)modelIndex);
        var c3Start = Vector512.Create((ulong)nameHash);
        Span<Vector512<ulong>> keys = stackalloc Vector512<ulong>[2 * Rounds];
        RoundKeys512(k0, k1, keys);
        ref float d = ref MemoryMarshal.GetReference(destination);
        ulong block = (ulong)element >> 2;
        var scale = Vector512.Create(TwoToMinus24);
        for (int g = 0; g < groups; g++, block += 16)
        {
            var words = Words512(keys, c2Start, c3Start, block);
            ref float group = ref Unsafe.Add(ref d, g * 64);
            (Vector512.ConvertToSingle((words.W0 >> 8).AsInt32()) * scale).StoreUnsafe(ref group);
            (Vector512.ConvertToSingle((words.W1 >> 8).AsInt32()) * scale).StoreUnsafe(ref group, 16);
            (Vector512.ConvertToSingle((words.W2 >> 8).AsInt32()) * scale).StoreUnsafe(ref group, 32);
            (Vector512.ConvertToSingle((words.W3 >> 8).AsInt32()) * scale).StoreUnsafe(ref group, 48);
        }
        return groups * 64;
    }

    /// <summary>vpternlog's truth table of a ^ b ^ c.</summary>
    private const byte Xor3 = 0x96;

    private const int Rounds = 10;

    /// <summary>The round keys of <see cref="Words512"/>, broadcast once per call instead of in every round of
    /// every block: key0 of round r at 2r, key1 at 2r + 1 (each bumped by its Weyl constant per round).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RoundKeys512(uint k0, uint k1, Span<Vector512<ulong>> keys)
    {
        for (int round = 0; round < Rounds; round++, k0 += Weyl0, k1 += Weyl1)
        {
            keys[2 * round] = Vector512.Create((ulong)k0);
            keys[2 * round + 1] = Vector512.Create((ulong)k1);
        }
    }

    /// <summary>The 64 words of blocks [block, block + 16) in element order (block b, word w → element 4b + w), 16 per
    /// vector. One block per 64-bit lane, two vectors of blocks whose rounds interleave: a round is a chain of
    /// multiply, shuffle and XOR (about 7 cycles), so two independent chains keep the multiplier busy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<uint> W0, Vector512<uint> W1, Vector512<uint> W2, Vector512<uint> W3) Words512(
        ReadOnlySpan<Vector512<ulong>> keys, Vector512<ulong> c2Start, Vector512<ulong> c3Start, ulong block)
    {
        var m0 = Vector512.Create((ulong)Multiplier0).AsUInt32();
        var m1 = Vector512.Create((ulong)Multiplier1).AsUInt32();
        var first = Vector512.Create(block) + Vector512.Create(0ul, 1, 2, 3, 4, 5, 6, 7);
        var second = first + Vector512.Create(8ul);
        // Only the low half of each lane is the state. The high halves are left as they fall: vpmuludq reads the low
        // halves, and the pairing below masks or shifts the high ones out, so no round needs an AND.
        Vector512<ulong> a0 = first, a1 = first >> 32, a2 = c2Start, a3 = c3Start;
        Vector512<ulong> b0 = second, b1 = second >> 32, b2 = c2Start, b3 = c3Start;
        for (int round = 0; round < Rounds; round++)
        {
            Vector512<ulong> key0 = keys[2 * round], key1 = keys[2 * round + 1];
            Round(ref a0, ref a1, ref a2, ref a3, m0, m1, key0, key1);
            Round(ref b0, ref b1, ref b2, ref b3, m0, m1, key0, key1);
        }
        var (w0, w1) = InElementOrder(a0, a1, a2, a3);
        var (w2, w3) = InElementOrder(b0, b1, b2, b3);
        return (w0, w1, w2, w3);
    }

    /// <summary>One Philox round on eight blocks: (c0, c1, c2, c3) ← (hi(M1·c2) ^ c1 ^ key0, lo(M1·c2), hi(M0·c0) ^ c3 ^ key1, lo(M0·c0)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round(ref Vector512<ulong> c0, ref Vector512<ulong> c1, ref Vector512<ulong> c2, ref Vector512<ulong> c3,
        Vector512<uint> m0, Vector512<uint> m1, Vector512<ulong> key0, Vector512<ulong> key1)
    {
        var p0 = Avx512F.Multiply(c0.AsUInt32(), m0);
        var p1 = Avx512F.Multiply(c2.AsUInt32(), m1);
        c0 = Avx512F.TernaryLogic(HighToLow(p1), c1, key0, Xor3);
        c1 = p1;
        c2 = Avx512F.TernaryLogic(HighToLow(p0), c3, key1, Xor3);
        c3 = p0;
    }

    /// <summary>The words of eight blocks in element order: each block's words paired into 64-bit lanes (x0|x1,
    /// x2|x3), then the pairs interleaved block by block, [p01[0], p23[0], p01[1], p23[1], ...]; 16 words per vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<uint> First, Vector512<uint> Second) InElementOrder(Vector512<ulong> c0, Vector512<ulong> c1,
        Vector512<ulong> c2, Vector512<ulong> c3)
    {
        var low32 = Vector512.Create(0xFFFF_FFFFul);
        var p01 = (c0 & low32) | (c1 << 32);
        var p23 = (c2 & low32) | (c3 << 32);
        return (Avx512F.PermuteVar8x64x2(p01, Vector512.Create(0ul, 8, 1, 9, 2, 10, 3, 11), p23).AsUInt32(),
            Avx512F.PermuteVar8x64x2(p01, Vector512.Create(4ul, 12, 5, 13, 6, 14, 7, 15), p23).AsUInt32());
    }

    /// <summary>The high 32 bits of each 64-bit lane moved to its low half (the high half then holds the old low one,
    /// which no reader of the state looks at). A dword shuffle (<c>vpshufd</c>) rather than a shift: shifts and
    /// <c>vpmuludq</c> share one execution port on 512-bit vectors, the shuffle runs on another.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> HighToLow(Vector512<ulong> lanes) => Avx512F.Shuffle(lanes.AsUInt32(), 0b10_11_00_01).AsUInt64();

    /// <summary>Bernoulli(<paramref name="density"/>) decisions of elements [start, start + count) as bits: bit j of
    /// <paramref name="words"/> is set iff the uniform of element start + j is below density (the class's rule).
    /// <paramref name="start"/> must be a multiple of 64; every word the span covers is written (whatever it held). With AVX-512 or AVX2 the
    /// words are compared as integers, (u &gt;&gt; 8) &lt; ⌈density · 2^24⌉, which is the same test (the uniform is
    /// (u &gt;&gt; 8) · 2^-24 exactly), with no floats written; otherwise the uniforms are drawn and compared.</summary>
    public static void FillKeepBits(ulong seed, uint modelIndex, uint nameHash, long start, int count, double density, Span<ulong> words)
    {
        if ((start & 63) != 0) throw new ArgumentException("the first element must start a 64-bit word", nameof(start));
        int i = 0;
        if (Avx512F.IsSupported) i = KeepBits512((uint)seed, (uint)(seed >> 32), modelIndex, nameHash, start, count, density, words);
        else if (Avx2.IsSupported) i = KeepBits256((uint)seed, (uint)(seed >> 32), modelIndex, nameHash, start, count, density, words);
        if (i == count) return;
        // Every word the span covers is written, whatever it held before (the caller's buffer may be pooled).
        words[(i >> 6)..((count + 63) >> 6)].Clear();
        var uniforms = System.Buffers.ArrayPool<float>.Shared.Rent(count - i);
        try
        {
            FillUniform(seed, modelIndex, nameHash, start + i, uniforms.AsSpan(0, count - i));
            for (int j = i; j < count; j++)
                if (uniforms[j - i] < density) words[j >> 6] |= 1ul << (j & 63);
        }
        finally { System.Buffers.ArrayPool<float>.Shared.Return(uniforms); }
    }

    /// <summary>The whole 64-element words of <see cref="FillKeepBits"/>; returns the elements done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int KeepBits512(uint k0, uint k1, uint modelIndex, uint nameHash, long start, int count, double density, Span<ulong> words)
    {
        int wordCount = count / 64;
        if (wordCount == 0 || double.IsNaN(density)) return 0;
        // uniform < density ⟺ m · 2^-24 < density ⟺ m < density · 2^24 (exact) ⟺ m < ⌈density · 2^24⌉ for integer m.
        double scaled = Math.Ceiling(density * (1 << 24));
        if (scaled <= 0) { words[..wordCount].Clear(); return wordCount * 64; }
        if (scaled > 1 << 24) { words[..wordCount].Fill(ulong.MaxValue); return wordCount * 64; }
        var threshold = Vector512.Create((uint)scaled);
        var c2Start = Vector512.Create((ulong)modelIndex);
        var c3Start = Vector512.Create((ulong)nameHash);
        Span<Vector512<ulong>> keys = stackalloc Vector512<ulong>[2 * Rounds];
        RoundKeys512(k0, k1, keys);
        ulong block = (ulong)start >> 2;
        for (int w = 0; w < wordCount; w++, block += 16)
        {
            var u = Words512(keys, c2Start, c3Start, block);
            words[w] = Vector512.ExtractMostSignificantBits(Vector512.LessThan(u.W0 >> 8, threshold))
                | Vector512.ExtractMostSignificantBits(Vector512.LessThan(u.W1 >> 8, threshold)) << 16
                | Vector512.ExtractMostSignificantBits(Vector512.LessThan(u.W2 >> 8, threshold)) << 32
                | Vector512.ExtractMostSignificantBits(Vector512.LessThan(u.W3 >> 8, threshold)) << 48;
        }
        return wordCount * 64;
    }

    /// <summary><see cref="KeepBits512"/> for AVX2 machines (AMD before Zen 4, most laptops): one 64-element word per
    /// step as four independent groups of four blocks in 64-bit lanes (<see cref="Words256"/>); the words are compared
    /// as integers as there and each group's four 4-bit compare masks are
    /// interleaved into element order (element 4b + w is word w of block b) through <see cref="SpreadNibble"/>.
    /// Without it the fallback draws floats and sets one bit per element behind a branch that, at density 0.5,
    /// mispredicts half the time (dare_ties cost 3.4x ties in CPU time on such a machine).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int KeepBits256(uint k0, uint k1, uint modelIndex, uint nameHash, long start, int count, double density, Span<ulong> words)
    {
        int wordCount = count / 64;
        if (wordCount == 0 || double.IsNaN(density)) return 0;
        double scaled = Math.Ceiling(density * (1 << 24)); // the integer form of uniform < density, as in KeepBits512
        if (scaled <= 0) { words[..wordCount].Clear(); return wordCount * 64; }
        if (scaled > 1 << 24) { words[..wordCount].Fill(ulong.MaxValue); return wordCount * 64; }
        // Every lane holds a 32-bit word with its upper half zero, so a signed 64-bit compare of (word >> 8) is exact.
        var threshold = Vector256.Create((long)scaled);
        var c2Start = Vector256.Create((ulong)modelIndex);
        var c3Start = Vector256.Create((ulong)nameHash);
        Span<Vector256<ulong>> keys = stackalloc Vector256<ulong>[2 * Rounds];
        RoundKeys256(k0, k1, keys);
        ulong block = (ulong)start >> 2;
        for (int w = 0; w < wordCount; w++, block += 16)
        {
            // Four independent groups: the out-of-order core overlaps their multiply chains.
            var g0 = Words256(keys, c2Start, c3Start, block);
            var g1 = Words256(keys, c2Start, c3Start, block + 4);
            var g2 = Words256(keys, c2Start, c3Start, block + 8);
            var g3 = Words256(keys, c2Start, c3Start, block + 12);
            words[w] = KeptInElementOrder(g0, threshold) | (ulong)KeptInElementOrder(g1, threshold) << 16
                | (ulong)KeptInElementOrder(g2, threshold) << 32 | (ulong)KeptInElementOrder(g3, threshold) << 48;
        }
        return wordCount * 64;
    }

    /// <summary>The 16 keep bits of four blocks (lane b of x_w is word w of block b) in element order: bit 4b + w.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint KeptInElementOrder((Vector256<ulong> X0, Vector256<ulong> X1, Vector256<ulong> X2, Vector256<ulong> X3) x, Vector256<long> threshold)
    {
        uint k0 = Vector256.ExtractMostSignificantBits(Vector256.LessThan((x.X0 >> 8).AsInt64(), threshold));
        uint k1 = Vector256.ExtractMostSignificantBits(Vector256.LessThan((x.X1 >> 8).AsInt64(), threshold));
        uint k2 = Vector256.ExtractMostSignificantBits(Vector256.LessThan((x.X2 >> 8).AsInt64(), threshold));
        uint k3 = Vector256.ExtractMostSignificantBits(Vector256.LessThan((x.X3 >> 8).AsInt64(), threshold));
        ReadOnlySpan<ushort> spread = SpreadNibble;
        return spread[(int)k0] | (uint)spread[(int)k1] << 1 | (uint)spread[(int)k2] << 2 | (uint)spread[(int)k3] << 3;
    }

    /// <summary>Bit b of the index moved to bit 4b.</summary>
    private static ReadOnlySpan<ushort> SpreadNibble =>
    [
        0x0000, 0x0001, 0x0010, 0x0011, 0x0100, 0x0101, 0x0110, 0x0111,
        0x1000, 0x1001, 0x1010, 0x1011, 0x1100, 0x1101, 0x1110, 0x1111,
    ];

    /// <summary>Four blocks (16 elements) per step; see <see cref="FillVector512"/>.</summary>
    private static int FillVector256(uint k0, uint k1, uint modelIndex, uint nameHash, long element, Span<float> destination)
    {
        int groups = destination.Length / 16;
        if (groups == 0) return 0;
        var c2Start = Vector256.Create((ulong)modelIndex);
        var c3Start = Vector256.Create((ulong)nameHash);
        Span<Vector256<ulong>> keys = stackalloc Vector256<ulong>[2 * Rounds];
        RoundKeys256(k0, k1, keys);
        Span<uint> words = stackalloc uint[16];
        ref float d = ref MemoryMarshal.GetReference(destination);
        ulong block = (ulong)element >> 2;
        for (int g = 0; g < groups; g++, block += 4)
        {
            var (x0, x1, x2, x3) = Words256(keys, c2Start, c3Start, block);
            StoreTransposed(x0, x1, x2, x3, words, ref Unsafe.Add(ref d, g * 16));
        }
        return groups * 16;
    }

    /// <summary>The round keys of <see cref="Words256"/> (as <see cref="RoundKeys512"/>).</summary>
    private static void RoundKeys256(uint k0, uint k1, Span<Vector256<ulong>> keys)
    {
        for (int round = 0; round < Rounds; round++, k0 += Weyl0, k1 += Weyl1)
        {
            keys[2 * round] = Vector256.Create((ulong)k0);
            keys[2 * round + 1] = Vector256.Create((ulong)k1);
        }
    }

    /// <summary>Blocks block .. block + 3 in the four 64-bit lanes (AVX2's 32 x 32 -> 64-bit multiply works on the
    /// low half of each): lane b of X_w is word w of block block + b, in the low 32 bits with the upper half zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<ulong> X0, Vector256<ulong> X1, Vector256<ulong> X2, Vector256<ulong> X3) Words256(
        ReadOnlySpan<Vector256<ulong>> keys, Vector256<ulong> c2Start, Vector256<ulong> c3Start, ulong block)
    {
        var low32 = Vector256.Create(0xFFFF_FFFFul);
        var m0 = Vector256.Create((ulong)Multiplier0).AsUInt32();
        var m1 = Vector256.Create((ulong)Multiplier1).AsUInt32();
        var blocks = Vector256.Create(block) + Vector256.Create(0ul, 1, 2, 3);
        Vector256<ulong> c0 = blocks & low32, c1 = blocks >> 32, c2 = c2Start, c3 = c3Start;
        for (int round = 0; round < Rounds; round++)
        {
            var p0 = Avx2.Multiply(c0.AsUInt32(), m0);
            var p1 = Avx2.Multiply(c2.AsUInt32(), m1);
            c0 = (p1 >> 32) ^ c1 ^ keys[2 * round];
            c1 = p1 & low32;
            c2 = (p0 >> 32) ^ c3 ^ keys[2 * round + 1];
            c3 = p0 & low32;
        }
        return (c0, c1, c2, c3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTransposed(Vector256<ulong> x0, Vector256<ulong> x1, Vector256<ulong> x2, Vector256<ulong> x3, Span<uint> words, ref float destination)
    {
        Vector256.Narrow(x0, x1).CopyTo(words);
        Vector256.Narrow(x2, x3).CopyTo(words[8..]);
        Transpose(words, 4, ref destination);
    }

    /// <summary>words holds x0[0..n), x1[0..n), x2[0..n), x3[0..n); writes element 4b + w = ToUniform(x_w[b]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(Span<uint> words, int blocks, ref float destination)
    {
        for (int b = 0; b < blocks; b++)
        {
            Unsafe.Add(ref destination, 4 * b) = ToUniform(words[b]);
            Unsafe.Add(ref destination, 4 * b + 1) = ToUniform(words[blocks + b]);
            Unsafe.Add(ref destination, 4 * b + 2) = ToUniform(words[2 * blocks + b]);
            Unsafe.Add(ref destination, 4 * b + 3) = ToUniform(words[3 * blocks + b]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ToUniform(uint u) => (u >> 8) * TwoToMinus24;
}
