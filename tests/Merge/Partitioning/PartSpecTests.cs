using DotnetMerge.Engine;
using DotnetMerge.Partitioning;

namespace DotnetMerge.Tests.Partitioning;

public sealed class PartSpecTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] vars)
        => name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Theory]
    [InlineData("0/1", 0, 1)]
    [InlineData("2/3", 2, 3)]
    [InlineData(" 6/7", 6, 7)]
    public void Explicit(string text, int index, int count)
    {
        var p = PartSpec.Parse(text, Env());
        Assert.Equal((index, count, "--part"), (p.Index, p.Count, p.Source));
    }

    [Fact]
    public void Auto_SlurmCount()
    {
        var p = PartSpec.Parse("auto", Env(("SLURM_ARRAY_TASK_ID", "4"), ("SLURM_ARRAY_TASK_COUNT", "7"), ("SLURM_ARRAY_TASK_MIN", "0")));
        Assert.Equal((4, 7), (p.Index, p.Count));
        Assert.Contains("SLURM_ARRAY_TASK_COUNT", p.Source);
    }

    [Fact]
    public void Auto_SlurmMinMax_CountsFromTheMinimum()
    {
        // --array=10-14: five tasks, the task with id 12 is part 2.
        var p = PartSpec.Parse("auto", Env(("SLURM_ARRAY_TASK_ID", "12"), ("SLURM_ARRAY_TASK_MIN", "10"), ("SLURM_ARRAY_TASK_MAX", "14")));
        Assert.Equal((2, 5), (p.Index, p.Count));
        Assert.Contains("_MAX", p.Source);
    }

    [Fact]
    public void Auto_KubernetesIndexedJob_NeedsTheCount()
    {
        var p = PartSpec.Parse("auto/4", Env(("JOB_COMPLETION_INDEX", "3")));
        Assert.Equal((3, 4, "JOB_COMPLETION_INDEX"), (p.Index, p.Count, p.Source));
        var e = Assert.Throws<MergeException>(() => PartSpec.Parse("auto", Env(("JOB_COMPLETION_INDEX", "3"))));
        Assert.Contains("auto/N", e.Message);
    }

    [Theory]
    [InlineData("3/3")]
    [InlineData("-1/3")]
    [InlineData("1/0")]
    [InlineData("1")]
    [InlineData("a/b")]
    [InlineData("auto")] // no scheduler in the environment
    public void Invalid_IsALocatedCommandLineError(string text)
    {
        var e = Assert.Throws<MergeException>(() => PartSpec.Parse(text, Env()));
        Assert.Equal(ErrorIds.PartSpec, e.Id);
        Assert.Equal(MergeErrorKind.Definition, e.Kind);
        Assert.Contains($"--part '{text}'", e.Message);
    }

    [Fact]
    public void Auto_CountThatContradictsTheArray_IsRefused()
    {
        var e = Assert.Throws<MergeException>(() => PartSpec.Parse("auto/3", Env(("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_COUNT", "4"))));
        Assert.Contains("4 tasks", e.Message);
        e = Assert.Throws<MergeException>(() => PartSpec.Parse("auto", Env(("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_COUNT", "2"), ("SLURM_ARRAY_TASK_STEP", "2"))));
        Assert.Contains("step", e.Message);
    }
}
