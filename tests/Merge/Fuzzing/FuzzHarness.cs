using System.Diagnostics;
using System.Globalization;

namespace DotnetMerge.Tests.Fuzzing;

/// <summary>Runs a parser over seeded mutations of a corpus and fails on the first input that throws anything but the
/// parser's typed error, or that breaks a bound: <see cref="CaseTimeLimit"/> of wall time (a hang, not a speed test) or
/// <see cref="CaseAllocationLimit"/> bytes allocated (unbounded amplification).
/// <para>The suite runs <see cref="DefaultIterations"/> inputs per parser (a few seconds). Longer runs:
/// <c>DOTNET_MERGE_FUZZ_ITERATIONS=200000 dotnet test tests/Merge -c Release --filter FullyQualifiedName~Fuzzing</c>,
/// and <c>DOTNET_MERGE_FUZZ_SEED=N</c> for another sequence (docs/reliability.md, "Fuzzing"). A failing input is written to
/// <c>$TMPDIR/dotnet-merge-fuzz/</c> and named in the failure with its seed and iteration; make it a regression test.</para></summary>
internal static class FuzzHarness
{
    public const int DefaultIterations = 1500;
    public const int DefaultSeed = 20261203;
    public static readonly TimeSpan CaseTimeLimit = TimeSpan.FromSeconds(20);
    public const long CaseAllocationLimit = 1L << 30;

    public static int Iterations => Setting("DOTNET_MERGE_FUZZ_ITERATIONS", DefaultIterations);

    public static int Seed => Setting("DOTNET_MERGE_FUZZ_SEED", DefaultSeed);

    /// <summary>Feeds <paramref name="iterations"/> inputs from <paramref name="next"/> to <paramref name="target"/>;
    /// <paramref name="target"/> returns normally or throws an exception that <paramref name="expected"/> accepts.</summary>
    public static void Run(string name, int iterations, Func<int, byte[]> next, Action<byte[]> target, Func<Exception, bool> expected)
    {
        byte[]? current = null;
        int index = -1;
        long started = 0;
        Exception? failure = null;
        var worker = new Thread(() =>
        {
            for (int i = 0; i < iterations && failure is null; i++)
            {
                var input = next(i);
                Volatile.Write(ref current, input);
                Volatile.Write(ref index, i);
                Volatile.Write(ref started, Stopwatch.GetTimestamp());
                long before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    target(input);
                }
                catch (Exception e) when (expected(e))
                {
                }
                catch (Exception e)
                {
                    failure = new FuzzFailure(Describe(name, i, input, $"threw {e.GetType().Name}: {e.Message}"), e);
                    break;
                }
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                if (allocated > CaseAllocationLimit)
                    failure = new FuzzFailure(Describe(name, i, input, $"allocated {allocated:N0} bytes for a {input.Length:N0}-byte input"));
            }
            Volatile.Write(ref started, 0);
        }) { IsBackground = true, Name = "fuzz " + name };
        worker.Start();
        while (!worker.Join(100))
        {
            long s = Volatile.Read(ref started);
            if (s != 0 && Stopwatch.GetElapsedTime(s) > CaseTimeLimit)
                throw new FuzzFailure(Describe(name, Volatile.Read(ref index), Volatile.Read(ref current)!, $"ran longer than {CaseTimeLimit.TotalSeconds} s"));
        }
        if (failure is not null) throw failure;
    }

    private static string Describe(string name, int iteration, byte[] input, string what)
    {
        var directory = Path.Combine(Path.GetTempPath(), "dotnet-merge-fuzz");
        Directory.CreateDirectory(directory);
        var file = Path.Combine(directory, $"{name}-seed{Seed}-{iteration}.bin");
        File.WriteAllBytes(file, input);
        var preview = input.Length <= 512 ? " base64 " + Convert.ToBase64String(input) : "";
        return $"fuzz {name}, seed {Seed}, iteration {iteration}: the input {what}. Input saved as {file}.{preview}";
    }

    private static int Setting(string variable, int fallback)
        => int.TryParse(Environment.GetEnvironmentVariable(variable), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : fallback;
}

internal sealed class FuzzFailure(string message, Exception? inner = null) : Exception(message, inner);
