using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DotnetMerge.Tool.Hosting;

/// <summary>Runs merges with <see cref="Vector{T}"/> as wide as the CPU allows.
/// <para>.NET keeps <see cref="Vector{T}"/> at 256 bits on AVX-512 machines unless the process starts with
/// <c>DOTNET_MaxVectorTBitWidth=512</c>, a setting the runtime reads only from the environment (not from
/// runtimeconfig.json). The CPU kernels are written against <see cref="Vector{T}"/> and give the same bits at every
/// width, and at 512 bits they run about 1.5-1.8x faster (bench/README.md). So when the CPU has AVX-512 and the
/// variable is unset, the tool runs itself once more as a child process with the variable set, forwards Ctrl+C /
/// SIGTERM, and exits with the child's code. <c>DOTNET_MERGE_SIMD_RELAUNCH=0</c> turns this off (<c>always</c> relaunches
/// even without AVX-512, which is how the tests reach the launcher on any machine); commands that do no tensor math
/// (check, plan, inspect, doctor, --help, --version) never relaunch.</para>
/// <para>The child dies with the launcher: it asks the kernel for SIGTERM when its parent exits
/// (<c>PR_SET_PDEATHSIG</c>, Linux), then checks that the parent is still the launcher (it may have died before the
/// request), so a kill -9 of the launcher cancels the merge instead of leaving an orphan that commits a model later.
/// SIGTERM is the ordinary cancellation: the child removes what it staged and writes nothing.</para></summary>
internal static partial class SimdRelaunch
{
    public const string WidthVariable = "DOTNET_MaxVectorTBitWidth";
    public const string OptOutVariable = "DOTNET_MERGE_SIMD_RELAUNCH";
    /// <summary>Set in the child: the launcher's process id.</summary>
    public const string LauncherVariable = "DOTNET_MERGE_LAUNCHER_PID";

    private static readonly HashSet<string> NoMath = new(StringComparer.Ordinal)
    {
        "check", "plan", "inspect", "doctor", "-h", "--help", "-?", "/?", "/h", "--version",
    };

    /// <summary>The exit code of the relaunched child, or null when this process should do the work itself.</summary>
    public static int? TryRun(string[] args)
    {
        if (!ShouldRelaunch(args, Environment.GetEnvironmentVariable, Vector512.IsHardwareAccelerated, Vector<byte>.Count))
            return null;
        var start = StartInfo(args);
        if (start is null) return null;
        // Registered before the child starts, so no signal falls between the start and the forwarding.
        var forward = new Forwarder();
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, forward.OnSignal);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, forward.OnSignal);
        try
        {
            using var child = Process.Start(start);
            if (child is null) return null;
            if (!forward.Attach(child))
            {
                Console.Error.WriteLine(Cli.CancelledMessage); // interrupted before the child could start work
                return ExitCodes.Cancelled;
            }
            child.WaitForExit();
            return child.ExitCode;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or PlatformNotSupportedException)
        {
            return null; // could not start a child: do the work here, at the default width
        }
    }

    /// <summary>Whether to relaunch: a tensor-math command, AVX-512 present but <see cref="Vector{T}"/> narrower,
    /// and neither the width variable nor the opt-out set.</summary>
    public static bool ShouldRelaunch(string[] args, Func<string, string?> environment, bool vector512, int vectorBytes)
    {
        if (environment(WidthVariable) is not null) return false;
        if (args.Length == 0 || args.Any(NoMath.Contains)) return false;
        string? choice = environment(OptOutVariable);
        if (choice is "always") return true;
        if (!vector512 || vectorBytes >= 64) return false;
        return choice is not ("0" or "false" or "off");
    }

    /// <summary>The same command line, started the way this process was (apphost, or <c>dotnet exec</c> of the entry
    /// assembly), with the width variable set; null when the entry point cannot be found.</summary>
    private static ProcessStartInfo? StartInfo(string[] args)
    {
        string? host = Environment.ProcessPath;
        if (host is null) return null;
        var start = new ProcessStartInfo(host) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            string? entry = System.Reflection.Assembly.GetEntryAssembly()?.Location;
            if (string.IsNullOrEmpty(entry)) return null;
            start.ArgumentList.Add("exec");
            start.ArgumentList.Add(entry);
        }
        foreach (string a in args) start.ArgumentList.Add(a);
        start.Environment[WidthVariable] = "512";
        start.Environment[LauncherVariable] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return start;
    }

    /// <summary>In a relaunched child (Linux): SIGTERM when the launcher exits, and false when it has already gone
    /// (the child then stops before doing anything). True everywhere else.</summary>
    public static bool BindToLauncher()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(LauncherVariable) is not { } value
            || !int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int launcher))
            return true;
        Environment.SetEnvironmentVariable(LauncherVariable, null); // not for the processes this one starts (evaluators)
        try
        {
            const int PrSetPdeathsig = 1, SigTerm = 15;
            _ = Prctl(PrSetPdeathsig, SigTerm, 0, 0, 0);
            // The launcher may have died before the request: then this process was re-parented already.
            return GetParentProcessId() == launcher;
        }
        catch (EntryPointNotFoundException) { return true; }
    }

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", EntryPoint = "getppid")]
    private static partial int GetParentProcessId();

    /// <summary>Keeps this process alive and passes each signal on: the child cancels cleanly (a second, later signal
    /// stops it at once, see <see cref="TerminationSignals"/>) and its exit code is ours.</summary>
    private sealed class Forwarder
    {
        private readonly object _gate = new();
        private Process? _child;
        private int _pending; // a signal number that arrived before the child existed

        /// <summary>Starts forwarding to <paramref name="child"/>; false when a signal came first (the child is then
        /// killed before it can do anything).</summary>
        public bool Attach(Process child)
        {
            lock (_gate)
            {
                _child = child;
                if (_pending == 0) return true;
            }
            try { child.Kill(entireProcessTree: true); child.WaitForExit(); } catch (InvalidOperationException) { }
            return false;
        }

        public void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            int signal = context.Signal == PosixSignal.SIGTERM ? 15 : 2;
            Process? child;
            lock (_gate)
            {
                child = _child;
                if (child is null) { _pending = signal; return; }
            }
            if (!OperatingSystem.IsWindows() && !child.HasExited) _ = Kill(child.Id, signal);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>"AVX-512, Vector&lt;T&gt; 512-bit" and the like, for the device line and <c>doctor</c>.</summary>
    public static string Describe()
    {
        string isa = Vector512.IsHardwareAccelerated ? "AVX-512" : Vector256.IsHardwareAccelerated ? "256-bit SIMD"
            : Vector128.IsHardwareAccelerated ? "128-bit SIMD" : "no SIMD";
        return $"{isa}, Vector<T> {Vector<byte>.Count * 8}-bit";
    }
}
