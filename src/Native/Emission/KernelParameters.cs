using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace DotnetMerge.Cuda.Emission;

/// <summary>Element type of one field of a kernel's parameter struct.</summary>
public enum KernelParameterType
{
    /// <summary><c>const void*</c>: an input buffer (a CUdeviceptr).</summary>
    InputPointer,
    /// <summary><c>void*</c>: an output buffer.</summary>
    OutputPointer,
    /// <summary><c>dm_u64</c>.</summary>
    UInt64,
    /// <summary><c>float</c>.</summary>
    Float32,
    /// <summary><c>dm_u32</c>.</summary>
    UInt32,
    /// <summary><c>double</c>.</summary>
    Float64,
}

/// <summary>One field (a scalar when <see cref="ArrayLength"/> is null, else an array) of a kernel's parameter struct, at <see cref="Offset"/>.</summary>
public sealed record KernelParameter(string Name, KernelParameterType Type, int? ArrayLength, int Offset, string Comment)
{
    public int Count => ArrayLength ?? 1;

    public int ElementSize => Type is KernelParameterType.Float32 or KernelParameterType.UInt32 ? 4 : 8;

    public string CType => Type switch
    {
        KernelParameterType.InputPointer => "const void*",
        KernelParameterType.OutputPointer => "void*",
        KernelParameterType.UInt64 => "dm_u64",
        KernelParameterType.Float32 => "float",
        KernelParameterType.Float64 => "double",
        _ => "dm_u32",
    };
}

/// <summary>The layout of a generated kernel's single by-value parameter, <c>struct dm_params</c>. The emitter writes the
/// struct from this layout and the host packs <see cref="KernelArguments"/> from it, so the two cannot disagree.
/// Fields are laid out with natural alignment in declaration order; the size is a multiple of 8.</summary>
public sealed class KernelParameterLayout
{
    private readonly Dictionary<string, KernelParameter> byName;

    private KernelParameterLayout(IReadOnlyList<KernelParameter> fields, int size)
    {
        Fields = fields;
        Size = size;
        byName = fields.ToDictionary(f => f.Name, StringComparer.Ordinal);
    }

    public IReadOnlyList<KernelParameter> Fields { get; }
    public int Size { get; }
    public KernelParameter this[string name] => byName.TryGetValue(name, out var f) ? f
        : throw new KeyNotFoundException($"the kernel has no parameter '{name}'");

    /// <summary>Lays out <paramref name="fields"/>; an array length of null declares a scalar.</summary>
    public static KernelParameterLayout Create(IEnumerable<(string Name, KernelParameterType Type, int? ArrayLength, string Comment)> fields)
    {
        var list = new List<KernelParameter>();
        int offset = 0;
        foreach (var (name, type, length, comment) in fields)
        {
            if (length is int n) ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
            var field = new KernelParameter(name, type, length, 0, comment);
            offset = Align(offset, field.ElementSize);
            list.Add(field with { Offset = offset });
            offset += field.ElementSize * field.Count;
        }
        return new KernelParameterLayout(list, Align(offset, 8));
    }

    /// <summary>The C declaration of <c>struct dm_params</c>, each field commented with its byte offset.</summary>
    public string ToCDeclaration()
    {
        var text = new StringBuilder("struct dm_params\n{\n");
        foreach (KernelParameter f in Fields)
        {
            string declaration = f.ArrayLength is null ? $"{f.CType} {f.Name};" : string.Create(CultureInfo.InvariantCulture, $"{f.CType} {f.Name}[{f.Count}];");
            text.Append("    ").Append(declaration.PadRight(28))
                .Append(string.Create(CultureInfo.InvariantCulture, $"// @{f.Offset}: {f.Comment}")).Append('\n');
        }
        text.Append(string.Create(CultureInfo.InvariantCulture, $"}}; // {Size} bytes\n"));
        return text.ToString();
    }

    private static int Align(int value, int alignment) => (value + alignment - 1) / alignment * alignment;
}

/// <summary>The bytes of one kernel launch's <c>dm_params</c>, to pass to <see cref="Runtime.CudaStream.Launch"/>.</summary>
public sealed class KernelArguments
{
    private readonly byte[] bytes;

    public KernelArguments(KernelParameterLayout layout)
    {
        Layout = layout;
        bytes = new byte[layout.Size];
    }

    public KernelParameterLayout Layout { get; }
    public ReadOnlySpan<byte> Bytes => bytes;

    /// <summary>Byte offset of element <paramref name="index"/> of field <paramref name="name"/>.</summary>
    public int OffsetOf(string name, int index = 0)
    {
        KernelParameter field = Layout[name];
        if ((uint)index >= (uint)field.Count)
            throw new ArgumentOutOfRangeException(nameof(index), $"{name} has {field.Count} element(s)");
        return field.Offset + index * field.ElementSize;
    }

    /// <summary>Sets a pointer (CUdeviceptr) or dm_u64 field.</summary>
    public KernelArguments Set(string name, int index, ulong value)
    {
        Expect(name, KernelParameterType.InputPointer, KernelParameterType.OutputPointer, KernelParameterType.UInt64);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(OffsetOf(name, index)), value);
        return this;
    }

    public KernelArguments Set(string name, ulong value) => Set(name, 0, value);

    public KernelArguments Set(string name, int index, float value)
    {
        Expect(name, KernelParameterType.Float32);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(OffsetOf(name, index)), value);
        return this;
    }

    public KernelArguments Set(string name, float value) => Set(name, 0, value);

    public KernelArguments Set(string name, int index, double value)
    {
        Expect(name, KernelParameterType.Float64);
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(OffsetOf(name, index)), value);
        return this;
    }

    public KernelArguments Set(string name, double value) => Set(name, 0, value);

    public KernelArguments Set(string name, uint value) => Set(name, 0, value);

    public KernelArguments Set(string name, int index, uint value)
    {
        Expect(name, KernelParameterType.UInt32);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(OffsetOf(name, index)), value);
        return this;
    }

    private void Expect(string name, params KernelParameterType[] types)
    {
        KernelParameterType actual = Layout[name].Type;
        if (!types.Contains(actual)) throw new ArgumentException($"parameter '{name}' is {actual}, not {string.Join(" or ", types)}", nameof(name));
    }
}
