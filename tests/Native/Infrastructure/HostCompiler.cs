using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace DotnetMerge.Cuda.Tests.Infrastructure;

/// <summary>Compiles kernel headers and emitted kernels with the host's g++ against tests/Native/Shim/cuda_shim.h and runs them
/// on the CPU. Binaries are cached per test run by a hash of their sources, so each distinct program is compiled once.</summary>
internal static class HostCompiler
{
    private static readonly Lazy<string?> Compiler = new(FindCompiler);
    private static readonly ConcurrentDictionary<string, Lazy<string>> Binaries = new(StringComparer.Ordinal);
    private static readonly string WorkRoot = Path.Combine(Path.GetTempPath(), "dotnet-merge-shim-" + Environment.ProcessId);

    /// <summary>The repository root: the first folder above the test binaries that holds dotnet-merge.sln.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();
    public static string TestsRoot => Path.Combine(RepositoryRoot, "tests", "Native");
    public static string ShimFolder => Path.Combine(TestsRoot, "Shim");
    public static string KernelsFolder => Path.Combine(RepositoryRoot, "kernels");

    /// <summary>Set to 1 (CI does, in .ci/run, after installing g++) to make a missing compiler fail the shim tests
    /// instead of skipping them: the CUDA backend's CPU evidence must not vanish quietly from a run.</summary>
    public const string RequireVariable = "DOTNET_MERGE_REQUIRE_GXX";

    /// <summary>Null when g++ can be used, else why not (the tests that need it skip with this reason).</summary>
    public static string? UnavailableReason => Compiler.Value is null ? "g++ (C++20) was not found on PATH; the CPU shim tests need it" : null;

    /// <summary>Skips the calling test when g++ is missing, or fails it when <see cref="RequireVariable"/> is 1.</summary>
    public static void SkipIfUnavailable() => SkipIfUnavailable(UnavailableReason, Environment.GetEnvironmentVariable(RequireVariable));

    internal static void SkipIfUnavailable(string? reason, string? required)
    {
        if (reason is null) return;
        if (required == "1")
            throw new InvalidOperationException($"{reason}, and {RequireVariable}=1 requires them to run (install g++, or unset the variable to skip them)");
        Skip.If(true, reason);
    }

    /// <summary>A fresh empty folder for one test's files.</summary>
    public static string NewWorkFolder(string label)
    {
        string folder = Path.Combine(WorkRoot, label + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>Builds a driver from tests/Native/Shim (with kernels/ on the include path) and, when given, one emitted kernel
    /// source included as DM_KERNEL_FILE with entry point DM_ENTRY. Returns the executable's path.</summary>
    public static string Build(string driverFile, string? kernelSource = null, string? entryPoint = null)
    {
        string driverPath = Path.Combine(ShimFolder, driverFile);
        string identity = string.Join("\n", File.ReadAllText(driverPath), File.ReadAllText(Path.Combine(ShimFolder, "cuda_shim.h")),
            string.Join("\n", Directory.GetFiles(KernelsFolder, "*.cuh").Order(StringComparer.Ordinal).Select(File.ReadAllText)),
            kernelSource ?? "", entryPoint ?? "");
        string key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)))[..16];
        return Binaries.GetOrAdd(key, k => new Lazy<string>(() => Compile(k, driverPath, kernelSource, entryPoint))).Value;
    }

    private static string Compile(string key, string driverPath, string? kernelSource, string? entryPoint)
    {
        string folder = Path.Combine(WorkRoot, "bin-" + key);
        Directory.CreateDirectory(folder);
        string output = Path.Combine(folder, "program");
        var arguments = new List<string>
        {
            "-std=c++20", "-O1", "-pthread", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Werror", "-Wno-unused-function",
            "-I" + ShimFolder, "-I" + KernelsFolder,
        };
        if (kernelSource is not null)
        {
            File.WriteAllText(Path.Combine(folder, "kernel.cu"), kernelSource);
            arguments.Add("-I" + folder);
            arguments.Add("-DDM_KERNEL_FILE=\"kernel.cu\"");
            arguments.Add("-DDM_ENTRY=" + entryPoint);
        }
        arguments.AddRange([driverPath, "-o", output]);
        var (code, stdout, stderr) = Run(Compiler.Value!, arguments, null, TimeSpan.FromMinutes(3));
        if (code != 0) throw new InvalidOperationException($"g++ failed ({code}):\n{stderr}\n{stdout}");
        return output;
    }

    /// <summary>Runs a program and returns its exit code and output; throws on timeout.</summary>
    public static (int ExitCode, string StandardOutput, string StandardError) Run(string program, IEnumerable<string> arguments,
        string? standardInput = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = standardInput is not null,
            UseShellExecute = false,
        };
        foreach (string a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (standardInput is not null)
        {
            process.StandardInput.Write(standardInput);
            process.StandardInput.Close();
        }
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} did not finish");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs an emitted kernel on the CPU: writes the parameter block and the inputs, patches the pointer slots,
    /// launches <paramref name="grid"/> blocks of <paramref name="block"/> threads, and returns the output bytes.</summary>
    public static byte[] RunKernel(Emission.EmittedKernel kernel, Emission.KernelArguments arguments, IReadOnlyList<byte[]> inputs,
        int outputBytes, uint grid, uint block, string outputField = "out", IReadOnlyList<(string Field, byte[] Data)>? extraInputs = null)
    {
        string program = Build("kernel_driver.cpp", kernel.Source, kernel.EntryPoint);
        string folder = NewWorkFolder("run");
        File.WriteAllBytes(Path.Combine(folder, "params.bin"), arguments.Bytes.ToArray());
        var args = new List<string> { Path.Combine(folder, "params.bin"), grid.ToString(System.Globalization.CultureInfo.InvariantCulture), block.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        for (int i = 0; i < inputs.Count; i++)
        {
            string file = Path.Combine(folder, $"in{i}.bin");
            File.WriteAllBytes(file, inputs[i]);
            args.Add(FormattableString.Invariant($"in:{arguments.OffsetOf("in", i)}:{file}"));
        }
        foreach (var (field, data) in extraInputs ?? [])
        {
            string file = Path.Combine(folder, field + ".bin");
            File.WriteAllBytes(file, data);
            args.Add(FormattableString.Invariant($"in:{arguments.OffsetOf(field)}:{file}"));
        }
        string outFile = Path.Combine(folder, "out.bin");
        args.Add(FormattableString.Invariant($"out:{arguments.OffsetOf(outputField)}:{outputBytes}:{outFile}"));
        var (code, stdout, stderr) = Run(program, args);
        if (code != 0) throw new InvalidOperationException($"kernel driver failed ({code}): {stderr}{stdout}");
        byte[] result = File.ReadAllBytes(outFile);
        try { Directory.Delete(folder, true); } catch (IOException) { }
        return result;
    }

    private static string? FindCompiler()
    {
        foreach (string? candidate in new[] { Environment.GetEnvironmentVariable("CXX"), "g++" })
        {
            if (string.IsNullOrWhiteSpace(candidate)) continue;
            try
            {
                var (code, _, _) = Run(candidate, ["--version"], null, TimeSpan.FromSeconds(30));
                if (code == 0) return candidate;
            }
            catch (System.ComponentModel.Win32Exception) { }
        }
        return null;
    }

    private static string FindRepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "dotnet-merge.sln"))) return folder.FullName;
        throw new InvalidOperationException("dotnet-merge.sln not found above " + AppContext.BaseDirectory);
    }
}
