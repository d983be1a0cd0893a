using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using DotnetMerge.Kernels;
using DotnetMerge.Methods;
using DotnetMerge.Numerics;

namespace DotnetMerge.Bench;

/// <summary>BenchmarkDotNet micro-benchmarks of the CPU kernels, single-threaded, on 4 Mi elements (8 MiB of bf16 per
/// input: past L2, like real tensors). Every benchmark declares OperationsPerInvoke = elements, so the reported time is
/// per element (elements/s = 1e9 / ns). "Memcpy" moves the same bytes as a bf16 decode reads and writes: the bandwidth
/// reference.</summary>
internal static class Micro
{
    public static int Run(string[] args)
    {
        var config = ManualConfig.CreateMinimumViable()
            .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
            .AddColumn(StatisticColumn.Median, StatisticColumn.Min) // Min: the figure to compare on a shared, noisy machine
            .WithOptions(ConfigOptions.DisableOptimizationsValidator);
        BenchmarkSwitcher.FromTypes([typeof(KernelBenchmarks)]).Run(args, config);
        return 0;
    }
}

[MemoryDiagnoser(false)]
public class KernelBenchmarks
{
    public const int N = 1 << 22;
    private byte[] _bf16A = null!, _bf16B = null!, _bf16C = null!, _out = null!;
    private float[] _floats = null!;
    private byte[] _copyDestination = null!;
    private TensorMergeContext _linear = null!, _slerp = null!, _ties = null!, _dareTies = null!, _tiesMapOnly = null!;
    private float[] _uniforms = null!;
    private static readonly ExecutionSettings OneThread = new(1);

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        float[] Values() => Enumerable.Range(0, N).Select(_ => (float)(rng.NextDouble() * 2 - 1) * 0.02f).ToArray();
        var a = Values();
        _bf16A = Encode(a);
        _bf16B = Encode(a.Select(v => v + (float)(rng.NextDouble() - 0.5) * 0.002f).ToArray());
        _bf16C = Encode(a.Select(v => v + (float)(rng.NextDouble() - 0.5) * 0.002f).ToArray());
        _out = new byte[2L * N];
        _floats = new float[N];
        _uniforms = new float[N];
        _copyDestination = new byte[6L * N]; // bf16 decode reads 2 and writes 4 bytes per element
        _linear = Context([_bf16A, _bf16B, _bf16C], -1, ("weight", 1.0), global: ("normalize", true));
        _slerp = Context([_bf16A, _bf16B], 0, ("weight", 1.0), global: ("t", 0.4));
        _ties = Context([_bf16A, _bf16B, _bf16C], 0, ("density", 0.5), global: ("normalize", true));
        _dareTies = _ties;
        _tiesMapOnly = Context([_bf16A, _bf16B, _bf16C], 0, ("density", 1.0), global: ("normalize", true));
    }

    private static byte[] Encode(float[] values)
    {
        var bytes = new byte[2L * values.Length];
        DtypeConversion.Encode(Dtype.BF16, values, bytes, 0);
        return bytes;
    }

    private TensorMergeContext Context(byte[][] inputs, int baseIndex, (string Key, object Value) perModel, (string Key, object Value) global)
    {
        long[] shape = [N / 2048, 2048];
        var models = inputs.Select((bytes, i) => new MergeInput("m" + i, "model.layers.0.mlp.up_proj.weight", Dtype.BF16, shape, bytes, i == baseIndex,
            new ParameterBag(new Dictionary<string, object> { [perModel.Key] = perModel.Value, ["weight"] = 1.0, ["lambda"] = 1.0 }))).ToList();
        var globals = new Dictionary<string, object> { [global.Key] = global.Value, ["lambda"] = 1.0, ["normalize"] = true, ["rescale"] = "false" };
        return new TensorMergeContext("model.layers.0.mlp.up_proj.weight", models, baseIndex, new ParameterBag(globals), shape, Dtype.BF16, _out, 7, false, OneThread);
    }

    [Benchmark(OperationsPerInvoke = N, Description = "memcpy 6 B/elem (bandwidth reference)")]
    public void Memcpy() => _copyDestination.AsSpan(0, 2 * N).CopyTo(_copyDestination.AsSpan(2 * N));

    [Benchmark(OperationsPerInvoke = N, Description = "bf16 decode")]
    public void Bf16Decode() => DtypeConversion.Decode(Dtype.BF16, _bf16A, 0, _floats);

    [Benchmark(OperationsPerInvoke = N, Description = "bf16 encode")]
    public void Bf16Encode() => DtypeConversion.Encode(Dtype.BF16, _floats, _out, 0);

    [Benchmark(OperationsPerInvoke = N, Description = "linear, 3 inputs (fused)")]
    public void Linear() => new LinearMerge().Merge(_linear);

    [Benchmark(OperationsPerInvoke = N, Description = "TIES threshold selection, 2 models")]
    public void TiesSelection()
    {
        var ctx = _ties;
        MagnitudeSelect.SelectTop(N, 2, [new SelectQuery(0, N / 2), new SelectQuery(1, N / 2)], (start, length, d) =>
        {
            var b = System.Buffers.ArrayPool<float>.Shared.Rent(length);
            ctx.Inputs[0].Decode(start, b.AsSpan(0, length));
            for (int m = 0; m < 2; m++)
            {
                ctx.Inputs[m + 1].Decode(start, d[m].AsSpan(0, length));
                System.Numerics.Tensors.TensorPrimitives.Subtract(d[m].AsSpan(0, length), b.AsSpan(0, length), d[m].AsSpan(0, length));
                System.Numerics.Tensors.TensorPrimitives.Abs(d[m].AsSpan(0, length), d[m].AsSpan(0, length));
            }
            System.Buffers.ArrayPool<float>.Shared.Return(b);
        }, OneThread);
    }

    [Benchmark(OperationsPerInvoke = N, Description = "ties, 3 inputs (whole method)")]
    public void Ties() => new TiesMerge().Merge(_ties);

    [Benchmark(OperationsPerInvoke = N, Description = "ties, 3 inputs, density 1 (the mix pass alone)")]
    public void TiesMix() => new TiesMerge().Merge(_tiesMapOnly);

    [Benchmark(OperationsPerInvoke = N, Description = "dare_ties, 3 inputs (whole method)")]
    public void DareTies() => new DareTiesMerge().Merge(_dareTies);

    [Benchmark(OperationsPerInvoke = N, Description = "Philox uniforms")]
    public void Philox() => DotnetMerge.Kernels.Philox.FillUniform(7, 1, 12345, 0, _uniforms);

    [Benchmark(OperationsPerInvoke = N, Description = "slerp, 2 inputs (whole method)")]
    public void Slerp() => new Slerp().Merge(_slerp);
}
