using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DotnetMerge.Cuda;
using DotnetMerge.Cuda.Compilation;
using DotnetMerge.Cuda.Emission;
using DotnetMerge.Numerics;

namespace DotnetMerge.Tool.Commands;

/// <summary><c>dotnet merge doctor</c>: what the CUDA probe found (every library tried, driver and NVRTC versions,
/// devices), the kernel cache folder, and, where CUDA is supported, whether a test kernel compiles. Exit code 0 either
/// way: a machine without a GPU is not an error.</summary>
public static class DoctorCommand
{
    public static Command Create(ToolConsole console)
    {
        var command = new Command("doctor", "Report whether merges can run on a CUDA GPU here, and why not.");
        command.SetAction((result, ct) => Cli.Guard(console, Verbosity.Normal, () => Task.FromResult(Run(console)), ct));
        return command;
    }

    private static int Run(ToolConsole console)
    {
        CudaProbeResult probe = CudaProbe.Run();
        console.Out.WriteLine(probe.Describe());
        string cache = KernelCache.DefaultDirectory(Environment.GetEnvironmentVariable) ?? $"off ({KernelCache.DirectoryVariable})";
        console.Out.WriteLine($"kernel cache: {cache}");
        console.Out.WriteLine($"cpu kernels: {Hosting.SimdRelaunch.Describe()}" + (Hosting.SimdRelaunch.ShouldRelaunch(["run"],
            Environment.GetEnvironmentVariable, System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated, System.Numerics.Vector<byte>.Count)
            ? $" here; merges relaunch with {Hosting.SimdRelaunch.WidthVariable}=512 ({Hosting.SimdRelaunch.OptOutVariable}=0 turns that off)" : ""));
        if (Environment.GetEnvironmentVariable(KernelCompiler.DumpVariable) is { Length: > 0 } dump)
            console.Out.WriteLine($"kernel sources dumped to: {dump}");
        if (!probe.IsSupported || probe.Devices.Count == 0)
        {
            console.Out.WriteLine("test kernel: not attempted (CUDA not supported); merges run on the CPU");
            return ExitCodes.Success;
        }
        CudaDeviceInfo device = probe.Devices[0];
        EmittedKernel kernel = KernelEmitter.EmitTaskArithmetic(3, 0, [Dtype.BF16, Dtype.BF16, Dtype.BF16], Dtype.BF16, dareMask: true);
        var watch = Stopwatch.StartNew();
        try
        {
            KernelCompiler compiler = KernelCompiler.CreateDefault();
            KernelImage image = compiler.Compile(kernel.Source, kernel.ProgramName, device.ComputeCapabilityMajor, device.ComputeCapabilityMinor);
            string from = compiler.Compilations > 0 ? "compiled" : "from the cache";
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"test kernel: ok ({kernel.EntryPoint} for {device.Architecture}: {image.Kind}, {image.Bytes.Length} bytes, {from}, {watch.Elapsed.TotalMilliseconds:F0} ms)"));
            if (compiler.LastCacheWarning is { } warning) console.Out.WriteLine("kernel cache warning: " + warning);
        }
        catch (Exception e) when (e is NvrtcException or CudaException or CudaUnavailableException)
        {
            console.Out.WriteLine($"test kernel: FAILED: {e.Message}");
            if (e is NvrtcCompilationException c) console.Out.WriteLine(c.Log);
        }
        console.Out.WriteLine($"merges run on: cuda:0 {device.Name} ({device.Architecture}) with --device auto");
        return ExitCodes.Success;
    }
}
