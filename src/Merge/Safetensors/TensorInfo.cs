using DotnetMerge.Numerics;

namespace DotnetMerge.Safetensors;

/// <summary>One tensor entry of a safetensors header. <see cref="Begin"/>/<see cref="End"/> are relative to the
/// start of the data section (file offset 8 + N).</summary>
public sealed record TensorInfo(string Name, Dtype Dtype, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;

    /// <summary>Product of the shape (1 for a scalar).</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Shape) n = checked(n * d);
            return n;
        }
    }
}

/// <summary>A tensor to be written: name, dtype, shape.</summary>
public sealed record OutputTensor(string Name, Dtype Dtype, long[] Shape)
{
    /// <summary>Bytes of data (checked; sub-byte types must fill whole bytes).</summary>
    public long ByteLength
    {
        get
        {
            long n = 1;
            foreach (long d in Shape)
            {
                if (d < 0) throw new ArgumentException($"tensor '{Name}' has a negative dimension");
                n = checked(n * d);
            }
            return Dtype.ByteCount(n);
        }
    }
}
