using System.Diagnostics;
using System.Globalization;
using DotnetMerge.Execution;
using DotnetMerge.Hub;
using DotnetMerge.Safetensors;
using Spectre.Console;

namespace DotnetMerge.Tool;

/// <summary>Shows a merge's progress: a live bar with bytes/s and ETA on a terminal, plain periodic lines otherwise
/// (files, pipes, CI, --no-progress). Stages and warnings respect the verbosity.</summary>
public sealed class ProgressReporter : IMergeProgress, IHubDownloadProgress
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
    private ProgressContext? _context;
    private readonly Dictionary<(HubModelId, string), ProgressTask> _downloadTasks = new();
    private readonly Stopwatch _downloadClock = new();
    private long _downloadSize, _downloadHave, _downloadReceived;
    private int _downloading;
    private TimeSpan _lastDownloadLine = TimeSpan.Zero;

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
            .HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                new TransferSpeedColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                lock (_gate) { _context = ctx; _task = ctx.AddTask("merging", autoStart: false); }
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

    // Hub downloads: on a terminal, one bar per file (bytes, bytes/s, ETA), hidden when done; otherwise a line every
    // 2 s at normal verbosity for the files in flight together, and one line per finished file at -v detailed.

    public void DownloadStarted(HubModelId model, string file, long size, long resumedFrom)
    {
        lock (_gate)
        {
            if (_downloading++ == 0)
            {
                // A new batch (the small files, then the weights): counts and rate start over.
                _downloadSize = _downloadHave = _downloadReceived = 0;
                _lastDownloadLine = TimeSpan.Zero;
                _downloadClock.Restart();
            }
            _downloadSize += size; _downloadHave += resumedFrom;
            if (_context is null) return;
            var task = _context.AddTask($"downloading {model} {file}", maxValue: Math.Max(1, size));
            task.Value = resumedFrom;
            _downloadTasks[(model, file)] = task;
        }
    }

    public void DownloadReceived(HubModelId model, string file, long bytes)
    {
        lock (_gate)
        {
            _downloadReceived += bytes;
            if (_downloadTasks.TryGetValue((model, file), out var task)) { task.Increment(bytes); return; }
            if (_context is not null || _verbosity < Verbosity.Normal) return;
            var now = _downloadClock.Elapsed;
            if (now - _lastDownloadLine < TimeSpan.FromSeconds(2)) return;
            _lastDownloadLine = now;
            double rate = _downloadReceived / Math.Max(1e-9, now.TotalSeconds);
            long left = Math.Max(0, _downloadSize - _downloadHave - _downloadReceived);
            var eta = rate > 0 ? TimeSpan.FromSeconds(left / rate) : TimeSpan.Zero;
            _console.Err.WriteLine(string.Format(CultureInfo.InvariantCulture,
                "  downloading {0} file{1}: {2} of {3}, {4}/s, ETA {5:hh\\:mm\\:ss}",
                _downloading, _downloading == 1 ? "" : "s", ShardSize.Format(_downloadHave + _downloadReceived), ShardSize.Format(_downloadSize),
                ShardSize.Format((long)rate), eta));
        }
    }

    public void DownloadFinished(HubModelId model, string file, long bytes, TimeSpan elapsed)
    {
        lock (_gate)
        {
            _downloading--;
            if (_downloadTasks.Remove((model, file), out var task)) { task.Value = task.MaxValue; task.StopTask(); }
            if (_context is not null || _verbosity < Verbosity.Detailed) return;
            double seconds = Math.Max(1e-3, elapsed.TotalSeconds);
            _console.Err.WriteLine(string.Format(CultureInfo.InvariantCulture, "  downloaded {0} {1}: {2} in {3:0.0} s ({4}/s)",
                model, file, ShardSize.Format(bytes), seconds, ShardSize.Format((long)(bytes / seconds))));
        }
    }
}
