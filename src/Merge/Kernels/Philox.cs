using System.Runtime.CompilerServices;
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ToUniform(uint u) => (u >> 8) * TwoToMinus24;
}
