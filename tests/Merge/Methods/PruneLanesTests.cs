using System.Numerics;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Selection;

namespace DotnetMerge.Tests.Methods;

/// <summary>The in-register keep / drop test against its rule written out here: every lane offset (vectors that
/// straddle 64-bit decision words, tie indices inside a vector), dropped entries as +0.0 (also negative ones).</summary>
public class PruneLanesTests
{
    private static float[] Deltas(int n, int seed, float[] magnitudes)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => magnitudes[random.Next(magnitudes.Length)] * (random.Next(2) == 0 ? -1 : 1)).ToArray();
    }

    /// <summary>Every element through the vector form at each start offset, and through the chunk form.</summary>
    private static void Check(PruneLanes lanes, float[] delta, Func<int, bool> kept)
    {
        static uint Bits(float v) => BitConverter.SingleToUInt32Bits(v);
        for (int start = 0; start + Vector<float>.Count <= delta.Length; start++)
        {
            var result = lanes.Apply(new Vector<float>(delta, start), start);
            for (int l = 0; l < Vector<float>.Count; l++)
            {
                float expected = kept(start + l) ? delta[start + l] : 0f;
                Assert.True(Bits(expected) == Bits(result[l]), $"lane {l} at {start}: {result[l]}, expected {expected}");
            }
        }
        foreach (int start in new[] { 0, 3, 64, 77 })
        {
            var chunk = delta[start..];
            lanes.Apply(start, chunk);
            for (int j = 0; j < chunk.Length; j++)
            {
                float expected = kept(start + j) ? delta[start + j] : 0f;
                Assert.True(Bits(expected) == Bits(chunk[j]), $"element {start + j} (chunk at {start}): {chunk[j]}, expected {expected}");
            }
        }
    }

    [Fact]
    public void Replay_keeps_exactly_the_recorded_bits()
    {
        const int n = 300;
        var random = new Random(5);
        var words = new ulong[(n + 63) / 64];
        for (int i = 0; i < words.Length; i++) words[i] = (ulong)random.NextInt64() ^ ((ulong)random.Next() << 40);
        var delta = Deltas(n, 6, [0.5f, 0.25f, 1e-3f, 3f]);
        Check(PruneLanes.Replay(words), delta, i => (words[i / 64] >> (i % 64) & 1) == 1);
    }

    /// <summary>Sort key of a non-negative float (its bits with the top bit set), written here from the IEEE layout.</summary>
    private static uint Key(float magnitude) => BitConverter.SingleToUInt32Bits(magnitude) | 0x8000_0000u;

    [Theory]
    [InlineData(37L, 150L)]     // both sets end on a tie inside the tensor
    [InlineData(-1L, 299L)]     // no tie kept / every tie removed
    [InlineData(long.MaxValue, -1L)]
    public void Select_keeps_the_set_minus_the_removed_set(long keepTie, long removeTie)
    {
        const int n = 300;
        float[] magnitudes = [0.125f, 0.25f, 0.5f, 1f, 2f, 4f];
        var delta = Deltas(n, 7, magnitudes);
        // Runs of threshold values across each last tie, so every lane position meets a tie boundary.
        foreach (var (tie, magnitude) in new[] { (keepTie, 0.25f), (removeTie, 2f) })
            for (long i = Math.Max(0, Math.Min(tie, n) - 17); i <= Math.Min(n - 1, Math.Max(tie, -1) + 17); i++)
                delta[i] = i % 3 == 0 ? -magnitude : magnitude;
        // keep: |δ| > 0.25 or (= 0.25 and index ≤ keepTie); remove: |δ| > 2 or (= 2 and index ≤ removeTie).
        var lanes = PruneLanes.Select(new TopSet(0, Key(0.25f), keepTie), new TopSet(0, Key(2f), removeTie));
        Check(lanes, delta, i =>
        {
            float m = Math.Abs(delta[i]);
            bool inKeep = m > 0.25f || (m == 0.25f && i <= keepTie);
            bool inRemove = m > 2f || (m == 2f && i <= removeTie);
            return inKeep && !inRemove;
        });
    }

    [Fact]
    public void Select_without_a_removed_set_and_the_empty_set()
    {
        const int n = 200;
        var delta = Deltas(n, 8, [0f, 0.5f, 1f, 1.5f]);
        Check(PruneLanes.Select(new TopSet(0, Key(1f), 100), TopSet.None), delta,
            i => Math.Abs(delta[i]) > 1f || (Math.Abs(delta[i]) == 1f && i <= 100));
        Check(PruneLanes.Select(TopSet.None, TopSet.None), delta, _ => false);
        Check(PruneLanes.Select(TopSet.All(n), TopSet.None), delta, _ => true);
    }
}
