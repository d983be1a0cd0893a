using System.Globalization;

namespace DotnetMerge.Safetensors;

/// <summary>One output shard: its file name and the tensors it holds, in write order.</summary>
public sealed record ShardPlan(string FileName, IReadOnlyList<OutputTensor> Tensors)
{
    /// <summary>Sum of the tensors' byte sizes.</summary>
    public long TensorBytes
    {
        get
        {
            long total = 0;
            foreach (var t in Tensors) total = checked(total + t.ByteLength);
            return total;
        }
    }
}

/// <summary>Splits tensors into shards the way huggingface_hub does (reference/formats-and-papers.md §A.7): in order,
/// a new shard starts when adding a tensor would exceed the limit, and a tensor larger than the limit gets a shard
/// of its own. No reordering, so tensors can be streamed in the given order.</summary>
public static class ShardLayout
{
    /// <param name="tensorsInWriteOrder">Tensors in the order they will be written.</param>
    /// <param name="maxShardBytes">Limit on the tensor bytes of a shard; 0 or less means a single shard.</param>
    public static IReadOnlyList<ShardPlan> Plan(IReadOnlyList<OutputTensor> tensorsInWriteOrder, long maxShardBytes)
    {
        ArgumentNullException.ThrowIfNull(tensorsInWriteOrder);
        var groups = new List<List<OutputTensor>>();
        var current = new List<OutputTensor>();
        long currentBytes = 0;
        foreach (var tensor in tensorsInWriteOrder)
        {
            long size = tensor.ByteLength;
            if (maxShardBytes > 0 && current.Count > 0 && (size > maxShardBytes || size > maxShardBytes - currentBytes))
            {
                groups.Add(current);
                current = [];
                currentBytes = 0;
            }
            current.Add(tensor);
            currentBytes = checked(currentBytes + size);
            if (maxShardBytes > 0 && size > maxShardBytes)
            {
                groups.Add(current); // an oversized tensor stands alone
                current = [];
                currentBytes = 0;
            }
        }
        if (current.Count > 0 || groups.Count == 0) groups.Add(current);

        var plans = new ShardPlan[groups.Count];
        for (int i = 0; i < groups.Count; i++)
            plans[i] = new ShardPlan(ShardFileName(i + 1, groups.Count), groups[i]);
        return plans;
    }

    /// <summary><c>model.safetensors</c> for a single shard, else <c>model-0000i-of-0000k.safetensors</c>.</summary>
    public static string ShardFileName(int index, int count) =>
        count == 1
            ? ModelCheckpoint.SingleFileName
            : string.Create(CultureInfo.InvariantCulture, $"model-{index:D5}-of-{count:D5}.safetensors");
}
