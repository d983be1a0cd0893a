using System.Diagnostics;
using System.Text.RegularExpressions;

namespace DotnetMerge.Tool.Tests.Partitioning;

/// <summary>Issue 19 on a real scheduler: a one-node Slurm cluster on loopback (munged, slurmctld, slurmd, started here
/// and stopped by pid), the documented submit script (docs/cluster/slurm-merge.sh: an sbatch --array of --part auto
/// workers and a join with --dependency=afterok), and the bytes compared with the one-process merge. Skips, with the
/// reason, only where Slurm is not installed or cannot start (.ci/run installs slurm-wlm and munge).</summary>
public sealed class SlurmTests : IDisposable
{
    private readonly TestWorkspace _ws = new();
    public void Dispose() => _ws.Dispose();

    private static string Script(string name) => Path.Combine(AppContext.BaseDirectory, "Partitioning", name);

    private static (int Code, string Out, string Err) Bash(string script, IDictionary<string, string>? env, params string[] args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (var a in args) start.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) start.Environment[k] = v;
        using var p = Process.Start(start)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(1))) { p.Kill(true); throw new TimeoutException(script + " did not finish"); }
        return (p.ExitCode, o.Result, e.Result);
    }

    [SkippableFact]
    public async Task SbatchArrayOfParts_ThenDependentJoin_GivesTheOneProcessBytes()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "Slurm runs on Linux");
        var cluster = _ws.PathOf("slurm");
        var started = Bash(Script("slurm-one-node.sh"), null, "start", cluster);
        try
        {
            Skip.If(started.Code == 77, "Slurm cannot be started here: " + started.Err.Trim());
            Assert.True(started.Code == 0, $"starting the one-node cluster failed (exit {started.Code}): {started.Err}");
            var conf = started.Out.Trim();

            await _ws.BaseAsync();
            await _ws.FineTuneAsync("a", "", 0);
            await _ws.FineTuneAsync("b", "mlp", 1);
            var config = _ws.Write("m.yaml",
                "merge_method: ties\nbase_model: models/base\nmodels:\n  - model: models/a\n    parameters: {weight: 1, density: 0.4}\n" +
                "  - model: models/b\n    parameters: {weight: 0.6, density: 0.3}\nparameters:\n  trim_scope: model\ndtype: bfloat16\n");
            var one = _ws.PathOf("one", "out");
            // From the directory the jobs run in (--chdir): the model card's links depend on the working directory.
            var r = ToolProcess.Run(_ws.Root, config, one, "--out-shard-size", "8KB", "--no-progress");
            Assert.True(r.ExitCode == 0, r.ToString());

            var output = _ws.PathOf("shared", "out");
            var jobs = _ws.PathOf("jobs");
            var submit = Bash(Script("slurm-merge.sh"), new Dictionary<string, string>
            {
                ["SLURM_CONF"] = conf,
                ["DOTNET_MERGE"] = $"dotnet exec {ToolProcess.ToolPath}",
                ["DOTNET_MERGE_SIMD_RELAUNCH"] = "0",
                ["MERGE_OPTIONS"] = "--out-shard-size 8KB",
                ["SLURM_MERGE_JOBS_FILE"] = jobs,
            }, config, output, "4", $"--chdir={_ws.Root}", $"--output={_ws.PathOf("%x-%A_%a.log")}");
            Assert.True(submit.Code == 0, $"submit failed (exit {submit.Code}):\n{submit.Out}\n{submit.Err}");
            var ids = File.ReadAllText(jobs).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

            string state = "";
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(90))
            {
                state = Scontrol(conf, ids[1]);
                if (state is "COMPLETED" or "FAILED" or "CANCELLED" or "TIMEOUT" or "NODE_FAIL" or "OUT_OF_MEMORY") break;
                if (state == "PENDING" && Regex.IsMatch(ScontrolRaw(conf, ids[1]), "Reason=DependencyNeverSatisfied")) break;
                await Task.Delay(500);
            }
            string logs = string.Join("\n", Directory.GetFiles(_ws.Root, "merge-*.log").Order().Select(f => Path.GetFileName(f) + ":\n" + File.ReadAllText(f)));
            Assert.True(state == "COMPLETED", $"the join job ended {state}; logs:\n{logs}");
            Assert.Equal(4, Directory.GetFiles(_ws.Root, "merge-parts-*.log").Length);
            Assert.Contains("SLURM_ARRAY_TASK_ID", logs);
            PartitionedRunTests.AssertSameFiles(one, output);
        }
        finally
        {
            Bash(Script("slurm-one-node.sh"), null, "stop", cluster);
        }
    }

    private static string ScontrolRaw(string conf, string job)
    {
        var start = new ProcessStartInfo("scontrol") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("show"); start.ArgumentList.Add("job"); start.ArgumentList.Add("-o"); start.ArgumentList.Add(job);
        start.Environment["SLURM_CONF"] = conf;
        using var p = Process.Start(start)!;
        var text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return text;
    }

    private static string Scontrol(string conf, string job)
        => Regex.Match(ScontrolRaw(conf, job), @"JobState=(\w+)") is { Success: true } m ? m.Groups[1].Value : "";
}
