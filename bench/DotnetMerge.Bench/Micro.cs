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
using DotnetMerge.Safetensors;
using DotnetMerge.Selection;

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
        BenchmarkSwitcher.FromTypes([typeof(KernelBenchmarks), typeof(LoraBenchmarks)]).Run(args, config);
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

    private readonly ulong[] _keepBits = new ulong[N / 64];

    [Benchmark(OperationsPerInvoke = N, Description = "DARE keep bits, density 0.5")]
    public void KeepBits() => DotnetMerge.Kernels.Philox.FillKeepBits(7, 1, 12345, 0, N, 0.5, _keepBits);

    [Benchmark(OperationsPerInvoke = N, Description = "slerp, 2 inputs (whole method)")]
    public void Slerp() => new Slerp().Merge(_slerp);
}

/// <summary>A LoRA-adapted bf16 tensor, [2048, 2048] = 4 Mi elements, rank 16, one thread: the engine's
/// <see cref="DotnetMerge.Adapters.AdaptedTensor.Apply"/> (register-tiled float64 kernel, the sum rounded in registers)
/// against the same formula written with System.Numerics.Tensors row by row (each row's delta as r fused
/// multiply-adds of a row of A, then decode, add, round, encode as span passes). Setup checks that both give the same
/// bytes. Per element: the delta is 16 multiply-adds in float64.</summary>
[MemoryDiagnoser(false)]
public class LoraBenchmarks
{
    public const int Rows = 2048, Cols = 2048, Rank = 16, N = Rows * Cols;
    private const double Scale = 2.0;
    private string _dir = null!;
    private SafetensorsFile _baseFile = null!, _adapterFile = null!;
    private DotnetMerge.Adapters.AdaptedTensor _adapted = null!;
    private byte[] _w = null!, _out = null!, _reference = null!;
    private double[] _a = null!, _b = null!;
    private static readonly ExecutionSettings OneThread = new(1);

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(5);
        float[] Values(int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
        byte[] Bf16(float[] v) { var b = new byte[2 * v.Length]; DtypeConversion.Encode(Dtype.BF16, v, b, 0); return b; }
        _w = Bf16(Values(N, 0.02));
        var a = Bf16(Values(Rank * Cols, 0.02));
        var b = Bf16(Values(Rows * Rank, 0.02));
        _a = Decode(a); _b = Decode(b);
        _dir = Path.Combine(Path.GetTempPath(), "dotnet-merge-bench-lora-" + Environment.ProcessId);
        Directory.CreateDirectory(_dir);
        Write(Path.Combine(_dir, "w.safetensors"), [("w", [Rows, Cols], _w)]);
        Write(Path.Combine(_dir, "ab.safetensors"), [("a", [Rank, Cols], a), ("b", [Rows, Rank], b)]);
        _baseFile = SafetensorsFile.Open(Path.Combine(_dir, "w.safetensors"));
        _adapterFile = SafetensorsFile.Open(Path.Combine(_dir, "ab.safetensors"));
        _adapted = new DotnetMerge.Adapters.AdaptedTensor("w", DotnetMerge.Adapters.LoraOrientation.Linear, _baseFile, _baseFile.Header.Find("w")!,
            _adapterFile, _adapterFile.Header.Find("a")!, _adapterFile.Header.Find("b")!, Scale, null);
        _out = new byte[2 * N];
        _reference = new byte[2 * N];
        Engine();
        TensorPrimitivesRows();
        if (!_out.AsSpan().SequenceEqual(_reference)) throw new InvalidOperationException("the two LoRA implementations disagree");
    }

    private static double[] Decode(byte[] bf16)
    {
        var f = new float[bf16.Length / 2];
        DtypeConversion.Decode(Dtype.BF16, bf16, 0, f);
        return f.Select(x => (double)x).ToArray();
    }

    private static void Write(string path, (string Name, long[] Shape, byte[] Bytes)[] tensors)
    {
        var writer = SafetensorsWriter.Create(path, tensors.Select(t => new OutputTensor(t.Name, Dtype.BF16, t.Shape)).ToList());
        foreach (var t in tensors) writer.WriteTensorAsync(t.Name, t.Bytes).AsTask().GetAwaiter().GetResult();
        writer.CompleteAsync().AsTask().GetAwaiter().GetResult();
        writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _baseFile.Dispose();
        _adapterFile.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = N, Description = "LoRA r=16 bf16 tensor: AdaptedTensor.Apply (register tile)")]
    public void Engine() => _adapted.Apply(_out, OneThread, CancellationToken.None);

    [Benchmark(OperationsPerInvoke = N, Description = "LoRA r=16 bf16 tensor: TensorPrimitives row by row")]
    public void TensorPrimitivesRows()
    {
        var delta = new double[Cols];
        var w = new float[Cols];
        var sum = new double[Cols];
        for (int i = 0; i < Rows; i++)
        {
            Array.Clear(delta);
            for (int k = 0; k < Rank; k++)
                System.Numerics.Tensors.TensorPrimitives.FusedMultiplyAdd(_a.AsSpan(k * Cols, Cols), _b[i * Rank + k], delta, delta);
            DtypeConversion.Decode(Dtype.BF16, _w, (long)i * Cols, w);
            for (int j = 0; j < Cols; j++) sum[j] = w[j];
            System.Numerics.Tensors.TensorPrimitives.Multiply(delta, Scale, delta);
            System.Numerics.Tensors.TensorPrimitives.Add(sum, delta, sum);
            System.Numerics.Tensors.TensorPrimitives.ConvertTruncating<double, float>(sum, w);
            DtypeConversion.Encode(Dtype.BF16, w, _reference, (long)i * Cols);
        }
    }
}
