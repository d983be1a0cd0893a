using System.Text;

namespace DotnetMerge.Cuda.Emission;

/// <summary>The CUDA C headers of kernels/ (embedded in this assembly) and their inlining into one self-contained source.</summary>
public static class KernelSources
{
    /// <summary>Header names, in dependency order.</summary>
    public static IReadOnlyList<string> Headers { get; } = ["dtype.cuh", "philox.cuh", "select.cuh", "merge_ops.cuh", "reduce.cuh"];

    /// <summary>The text of one header (line endings normalised to \n).</summary>
    public static string Read(string header)
    {
        using Stream? stream = typeof(KernelSources).Assembly.GetManifestResourceStream("kernels/" + header);
        if (stream is null) throw new ArgumentException($"no embedded kernel header '{header}'", nameof(header));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd().Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    /// <summary>The headers' text one after the other, without their <c>#pragma once</c> and <c>#include "..."</c> lines,
    /// each under a banner naming it; the result needs no include path.</summary>
    public static string Inline(IEnumerable<string> headers)
    {
        var text = new StringBuilder();
        foreach (string header in headers)
        {
            text.Append("// ==== kernels/").Append(header).Append(" ====\n");
            foreach (string line in Read(header).TrimEnd('\n').Split('\n'))
            {
                string trimmed = line.Trim();
                if (trimmed == "#pragma once" || trimmed.StartsWith("#include \"", StringComparison.Ordinal)) continue;
                text.Append(line).Append('\n');
            }
            text.Append('\n');
        }
        return text.ToString();
    }
}
