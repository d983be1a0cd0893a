using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using DotnetMerge.Engine;
using DotnetMerge.Planning;

namespace DotnetMerge.Partitioning;

/// <summary>What a partitioned run's records are keyed by: a sha256 of the definition (its text and the options that change
/// the output) and one of the inputs as the plan sees them (every input tensor's name, dtype, shape and place in its
/// file, every model's config.json). Both come from headers only, so every machine computes them before reading a weight.
/// <see cref="Plan"/> combines them; keeping them apart lets a stale record say which of the two changed.</summary>
public sealed record PlanFingerprint(string Definition, string Inputs)
{
    public string Plan => Hex(Encoding.UTF8.GetBytes(Definition + ":" + Inputs));

    public static PlanFingerprint Of(MergePlan plan, string definitionText, MergeOptions options)
    {
        var d = new StringBuilder();
        d.Append(definitionText).Append('\0');
        d.Append(CultureInfo.InvariantCulture, $"shard={options.MaxShardBytes};dtype={options.Dtype};out={options.OutDtype};seed={options.Seed};")
            .Append(CultureInfo.InvariantCulture, $"crimes={options.AllowCrimes};tokenizer={options.CopyTokenizer};card={options.WriteModelCard}\0");
        d.Append(plan.Method.Name).Append(CultureInfo.InvariantCulture, $";{plan.Seed}\0");
        foreach (var shard in plan.Shards)
        {
            d.Append(shard.FileName).Append('\n');
            foreach (var t in shard.Tensors) d.Append(t.Name).Append(' ').Append(t.Dtype).Append(' ').AppendJoin(',', t.Shape).Append('\n');
        }

        var i = new StringBuilder();
        foreach (var model in plan.Models)
            i.Append(model.Name).Append('\0').Append(model.Config?.ToJsonString() ?? "").Append('\0');
        foreach (var job in plan.Jobs)
        {
            i.Append(job.OutputName).Append(':');
            foreach (var input in job.Inputs)
                i.Append(CultureInfo.InvariantCulture,
                    $"{input.Model.Name}|{input.TensorName}|{input.Tensor.Dtype}|{string.Join(',', input.Tensor.Shape)}|{input.Tensor.Begin}|{input.Tensor.End}|{input.BytesFromDisk};");
            i.Append('\n');
        }
        return new PlanFingerprint(Hex(Encoding.UTF8.GetBytes(d.ToString())), Hex(Encoding.UTF8.GetBytes(i.ToString())));
    }

    /// <summary>Which of the two differs from <paramref name="other"/>, in words ("the definition", "the inputs", both).</summary>
    public string Changed(PlanFingerprint other)
        => (Definition != other.Definition, Inputs != other.Inputs) switch
        {
            (true, true) => "the definition (or its options) and the inputs' headers",
            (true, false) => "the definition (or its options)",
            (false, true) => "the inputs' headers",
            _ => "nothing",
        };

    internal static string Hex(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
}
