using System.Diagnostics;
using System.Globalization;

namespace DotnetMerge.Engine;

/// <summary>Where a run's time goes, for start-up work (docs/performance.md, "Start-up"): with
/// <c>DOTNET_MERGE_TIMINGS=1</c> every <see cref="Mark"/> writes one line to standard error, the time since the process
/// started (so the first line includes the runtime's own start), the process's CPU time, and how many methods the JIT
/// has compiled and how long that took, each as a total and as the change since the previous mark. Off (the default),
/// a mark costs one static field read.</summary>
public static class PhaseTimings
{
    public const string Variable = "DOTNET_MERGE_TIMINGS";

    private static readonly bool Enabled = Environment.GetEnvironmentVariable(Variable) is "1" or "true";
    private static readonly object Gate = new();
    private static DateTime _start;
    private static double _wall, _cpu, _jit;
    private static long _methods;

    /// <summary>Records that <paramref name="phase"/> has just finished.</summary>
    public static void Mark(string phase)
    {
        if (!Enabled) return;
        lock (Gate)
        {
            if (_start == default)
            {
                using var self = Process.GetCurrentProcess();
                _start = self.StartTime.ToUniversalTime();
            }
            double wall = (DateTime.UtcNow - _start).TotalMilliseconds;
            double cpu = Environment.CpuUsage.TotalTime.TotalMilliseconds;
            double jit = System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds;
            long methods = System.Runtime.JitInfo.GetCompiledMethodCount();
            Console.Error.WriteLine(string.Format(CultureInfo.InvariantCulture,
                "timing: {0,-34} wall {1,6:F0} ms (+{2,4:F0})  cpu {3,6:F0} ms (+{4,4:F0})  jit {5,5} methods (+{6,4}) {7,5:F0} ms (+{8,4:F0})",
                phase, wall, wall - _wall, cpu, cpu - _cpu, methods, methods - _methods, jit, jit - _jit));
            (_wall, _cpu, _jit, _methods) = (wall, cpu, jit, methods);
        }
    }
}
