using System.Diagnostics;
using System.Globalization;
using DotnetMerge.Execution;
using DotnetMerge.Safetensors;
using Spectre.Console;

namespace DotnetMerge.Tool;

/// <summary>Shows a merge's progress: a live bar with bytes/s and ETA on a terminal, plain periodic lines otherwise
/// (files, pipes, CI, --no-progress). Stages and warnings respect the verbosity.</summary>
public sealed class ProgressReporter : IMergeProgress
{
    private readonly ToolConsole _console;
    private readonly Verbosity _verbosity;
    private readonly bool _live;
    private readonly object _gate = new();
    private readonly Stopwatch _clock = new();
    private ProgressTask? _task;
    private int _tensors, _done;
    private long _toWrite, _written, _read;
    private TimeSpan _lastLine = TimeSpan.Zero;

    public ProgressReporter(ToolConsole console, Verbosity verbosity, bool showProgress)
    {
        _console = console; _verbosity = verbosity;
        _live = showProgress && console.Interactive && verbosity >= Verbosity.Normal;
    }

    /// <summary>Runs <paramref name="work"/> with this reporter attached (inside a live display when interactive).</summary>
    public async Task<T> RunAsync<T>(Func<IMergeProgress, Task<T>> work)
    {
        if (!_live) return await work(this);
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(_console.Err) });
        T result = default!;
        await console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                new TransferSpeedColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                lock (_gate) _task = ctx.AddTask("merging", autoStart: false);
                result = await work(this);
            });
        return result;
    }

    public void Started(int tensorCount, long bytesToRead, long bytesToWrite)
    {
        lock (_gate)
        {
            // A multi-stage run with --intermediate-dir starts once per stage: each stage counts from zero.
            _tensors = tensorCount; _toWrite = Math.Max(1, bytesToWrite);
            _done = 0; _written = 0; _read = 0; _lastLine = TimeSpan.Zero;
            _clock.Restart();
            if (_task is not null)
            {
                _task.Value = 0;
                _task.MaxValue = _toWrite;
                _task.Description = $"merging {tensorCount} tensors";
                _task.StartTask();
            }
        }
    }

    public void TensorWritten(string name, long bytesRead, long bytesWritten)
    {
        lock (_gate)
        {
            _done++; _written += bytesWritten; _read += bytesRead;
            if (_task is not null) { _task.Increment(bytesWritten); return; }
            if (_verbosity >= Verbosity.Detailed)
            {
                _console.Err.WriteLine($"  [{_done}/{_tensors}] {name} ({ShardSize.Format(bytesWritten)})");
                return;
            }
            if (_verbosity < Verbosity.Normal) return;
            var now = _clock.Elapsed;
            if (_done != _tensors && now - _lastLine < TimeSpan.FromSeconds(2)) return;
            _lastLine = now;
            double seconds = Math.Max(1e-9, now.TotalSeconds);
            double rate = _written / seconds;
            var eta = rate > 0 ? TimeSpan.FromSeconds((_toWrite - _written) / rate) : TimeSpan.Zero;
            _console.Err.WriteLine(string.Format(CultureInfo.InvariantCulture,
                "  {0}/{1} tensors, {2} of {3} written, {4}/s, ETA {5:hh\\:mm\\:ss}",
                _done, _tensors, ShardSize.Format(_written), ShardSize.Format(_toWrite), ShardSize.Format((long)rate), eta));
        }
    }

    public void Stage(string description)
    {
        if (_verbosity < Verbosity.Normal) return;
        lock (_gate)
        {
            if (_task is not null) _task.Description = description;
            else _console.Err.WriteLine(description + "...");
        }
    }

    public void Warning(string message)
    {
        if (_verbosity < Verbosity.Minimal) return;
        lock (_gate) _console.Err.WriteLine(message);
    }
}
