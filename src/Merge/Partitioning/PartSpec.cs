using System.Globalization;
using DotnetMerge.Engine;

namespace DotnetMerge.Partitioning;

/// <summary>Which part of a partitioned run this process computes: <see cref="Index"/> from 0 to <see cref="Count"/> - 1
/// (a Slurm array <c>--array=0-(N-1)</c> or a Kubernetes Indexed Job numbers its tasks the same way).</summary>
public sealed record PartSpec(int Index, int Count)
{
    /// <summary>Where the index came from: "--part", or the scheduler's variables that gave it.</summary>
    public string Source { get; init; } = "--part";

    /// <summary>More parts than this is surely a typo (a part is at least one output shard).</summary>
    public const int MaxCount = 100_000;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");

    /// <summary>Parses <c>i/N</c>, <c>auto</c> or <c>auto/N</c> (the count for schedulers that give only an index, such as a
    /// Kubernetes Indexed Job's <c>JOB_COMPLETION_INDEX</c>); <paramref name="environment"/> reads a variable.</summary>
    public static PartSpec Parse(string text, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(text);
        var (head, tail) = text.IndexOf('/', StringComparison.Ordinal) is int slash and >= 0 ? (text[..slash], text[(slash + 1)..]) : (text, null);
        int? given = tail is null ? null : Number(tail, "N", text);
        if (given is < 1 or > MaxCount) throw Bad(text, $"the part count N must be from 1 to {MaxCount}");
        if (head.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase)) return FromScheduler(environment, given, text);
        if (given is null) throw Bad(text, "give it as i/N (part i of N, i from 0 to N-1), or auto");
        int index = Number(head, "i", text);
        if (index >= given) throw Bad(text, $"the part index i must be from 0 to {given - 1} (N - 1)");
        return new PartSpec(index, given.Value);
    }

    private static PartSpec FromScheduler(Func<string, string?> environment, int? given, string text)
    {
        if (environment("SLURM_ARRAY_TASK_ID") is { Length: > 0 } id)
        {
            int task = Number(id, "SLURM_ARRAY_TASK_ID", text);
            if (environment("SLURM_ARRAY_TASK_STEP") is { Length: > 0 } step && step.Trim() != "1")
                throw Bad(text, $"the Slurm array has step {step}; submit it with consecutive indices, --array=0-(N-1)");
            int min = environment("SLURM_ARRAY_TASK_MIN") is { Length: > 0 } lo ? Number(lo, "SLURM_ARRAY_TASK_MIN", text) : 0;
            int? count = environment("SLURM_ARRAY_TASK_COUNT") is { Length: > 0 } c ? Number(c, "SLURM_ARRAY_TASK_COUNT", text) : null;
            string source = count is null ? "SLURM_ARRAY_TASK_ID, _MIN and _MAX" : "SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT";
            if (count is null && environment("SLURM_ARRAY_TASK_MAX") is { Length: > 0 } hi) count = Number(hi, "SLURM_ARRAY_TASK_MAX", text) - min + 1;
            count ??= given;
            if (count is null or < 1) throw Bad(text, "SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX; give the count as --part auto/N");
            if (given is not null && given != count)
                throw Bad(text, $"--part says {given} parts but the Slurm array has {count} tasks ({source}); submit --array=0-{given - 1} or drop the count");
            if (task < min || task - min >= count) throw Bad(text, $"SLURM_ARRAY_TASK_ID {task} is outside the array ({count} tasks from {min})");
            return new PartSpec(task - min, count.Value) { Source = source };
        }
        if (environment("JOB_COMPLETION_INDEX") is { Length: > 0 } k8s)
        {
            int index = Number(k8s, "JOB_COMPLETION_INDEX", text);
            if (given is null) throw Bad(text, "JOB_COMPLETION_INDEX gives no count; give it as --part auto/N with N the Job's completions");
            if (index >= given) throw Bad(text, $"JOB_COMPLETION_INDEX {index} is not below the count {given}; set completions to {given}");
            return new PartSpec(index, given.Value) { Source = "JOB_COMPLETION_INDEX" };
        }
        throw Bad(text, "no scheduler index in the environment (SLURM_ARRAY_TASK_ID of an sbatch --array job, or JOB_COMPLETION_INDEX of a Kubernetes Indexed Job); give the part as i/N");
    }

    private static int Number(string value, string what, string text)
        => int.TryParse(value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n <= MaxCount * 10
            ? n : throw Bad(text, $"{what} '{value}' is not a whole number from 0");

    private static MergeException Bad(string text, string why)
        => new(MergeErrorKind.Definition, ErrorIds.PartSpec, $"--part '{text}': {why}");
}
