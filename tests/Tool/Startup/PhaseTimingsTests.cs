using System.Globalization;
using System.Text.RegularExpressions;
using DotnetMerge.Engine;

namespace DotnetMerge.Tool.Tests.Startup;

/// <summary>DOTNET_MERGE_TIMINGS=1 prints where a merge's time went, phase by phase, on standard error (the start-up
/// breakdown of docs/performance.md); without it nothing is printed and the output is the same.</summary>
public sealed class PhaseTimingsTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    public void Dispose() => _ws.Dispose();

    private static readonly string[] Phases =
    [
        "runtime started, Main entered", "commands built", "command line parsed", "definition parsed and validated",
        "inputs checked and planned", "output directory staged", "tensors merged and written",
        "config, tokenizer and card written", "output committed", "command finished",
    ];

    [Fact]
    public void A_merge_with_the_variable_set_prints_each_phase_once_in_order_with_growing_totals()
    {
        var demo = ToolProcess.Run(_ws.Root, "demo", _ws.PathOf("d"), "--no-progress");
        Assert.True(demo.ExitCode == 0, demo.ToString());

        var quiet = ToolProcess.Run(ToolProcess.StartInfo(_ws.Root, "0", [_ws.PathOf("d", "merge.yaml"), _ws.PathOf("plain"), "--no-progress"]));
        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        Assert.DoesNotContain("timing:", quiet.Err + quiet.Out);

        var start = ToolProcess.StartInfo(_ws.Root, "0", [_ws.PathOf("d", "merge.yaml"), _ws.PathOf("timed"), "--no-progress"]);
        start.Environment[PhaseTimings.Variable] = "1";
        var timed = ToolProcess.Run(start);
        Assert.True(timed.ExitCode == 0, timed.ToString());
        Assert.DoesNotContain("timing:", timed.Out);

        var line = new Regex(@"^timing: (?<phase>.+?)\s+wall\s+(?<wall>\d+) ms \(\+\s*(?<dwall>\d+)\)\s+cpu\s+(?<cpu>\d+) ms \(\+\s*(?<dcpu>\d+)\)\s+jit\s+(?<jit>\d+) methods \(\+\s*(?<djit>\d+)\)");
        var rows = timed.Err.Split('\n').Select(l => line.Match(l.TrimEnd())).Where(m => m.Success).ToList();
        Assert.Equal(Phases, rows.Select(m => m.Groups["phase"].Value).ToArray());
        long Value(Match m, string name) => long.Parse(m.Groups[name].Value, CultureInfo.InvariantCulture);
        for (int i = 1; i < rows.Count; i++)
        {
            Assert.True(Value(rows[i], "wall") >= Value(rows[i - 1], "wall"), rows[i].Value);
            Assert.True(Value(rows[i], "cpu") >= Value(rows[i - 1], "cpu"), rows[i].Value);
            Assert.Equal(Value(rows[i], "jit") - Value(rows[i - 1], "jit"), Value(rows[i], "djit"));
        }
        Assert.True(Value(rows[0], "wall") > 0, "the first mark counts from the process's start");

        // The same model either way: the timings only watch.
        foreach (var file in Directory.GetFiles(_ws.PathOf("plain")).Select(Path.GetFileName).Where(f => f != "README.md"))
            Assert.Equal(File.ReadAllBytes(_ws.PathOf("plain", file!)), File.ReadAllBytes(_ws.PathOf("timed", file!)));
    }
}
