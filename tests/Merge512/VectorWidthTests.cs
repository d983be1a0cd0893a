using System.Numerics;
using System.Runtime.Intrinsics;

namespace DotnetMerge.Tests;

/// <summary>This assembly exists to run the unit tests at 512-bit <see cref="Vector{T}"/>: it fails when the setting
/// did not reach the test host on a CPU that has AVX-512 (the other tests would then silently repeat the default width).</summary>
public sealed class VectorWidthTests
{
    [Fact]
    public void The_test_host_runs_512_bit_vectors_where_the_cpu_has_them()
    {
        Assert.Equal("512", Environment.GetEnvironmentVariable("DOTNET_MaxVectorTBitWidth"));
        int expected = Vector512.IsHardwareAccelerated ? 64 : Vector256.IsHardwareAccelerated ? 32 : Vector<byte>.Count;
        Assert.Equal(expected, Vector<byte>.Count);
    }
}
