using DotnetMerge.Planning;
using DotnetMerge.Safetensors;

namespace DotnetMerge.Partitioning;

/// <summary>One output shard's share of a partitioned run.</summary>
public sealed record ShardWork(int ShardIndex, ShardPlan Shard, IReadOnlyList<TensorJob> Jobs, int Part)
{
    public long BytesToRead => Jobs.Sum(j => j.BytesFromDisk);
    public long BytesToWrite => Shard.TensorBytes;
    /// <summary>What the assignment balances: the bytes the shard makes a part read and write.</summary>
    public long Cost => BytesToRead + BytesToWrite;
}

/// <summary>Assigns a plan's output shards to N parts, from the plan alone (the definition and the inputs' headers), so
/// every machine computes the same assignment: shards by falling cost (bytes read + written; ties by shard order) each go
/// to the part with the least cost so far (ties: the lowest part index). A part may get no shard when N exceeds the
/// shard count.</summary>
public static class PartAssignment
{
    public static IReadOnlyList<ShardWork> Assign(MergePlan plan, int parts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        var jobs = plan.Jobs.ToDictionary(j => j.OutputName, StringComparer.Ordinal);
        var work = plan.Shards.Select((s, i) => new ShardWork(i, s, s.Tensors.Select(t => jobs[t.Name]).ToList(), 0)).ToList();
        var load = new long[parts];
        var assigned = new ShardWork[work.Count];
        foreach (var w in work.OrderByDescending(w => w.Cost).ThenBy(w => w.ShardIndex))
        {
            int best = 0;
            for (int p = 1; p < parts; p++) if (load[p] < load[best]) best = p;
            load[best] += w.Cost;
            assigned[w.ShardIndex] = w with { Part = best };
        }
        return assigned;
    }
}
