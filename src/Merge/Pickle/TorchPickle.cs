using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using DotnetMerge.Numerics;

namespace DotnetMerge.Pickle;

/// <summary>A storage named by a persistent id: <c>('storage', torch.XStorage, key, location, numel)</c>.</summary>
public sealed record TorchStorageRef(string Key, Dtype Dtype, string TypeName, long Numel);

/// <summary>A tensor as <c>_rebuild_tensor_v2/v3</c> describes it: a view of a storage (offset and strides in elements).</summary>
public sealed record TorchTensorRef(TorchStorageRef Storage, Dtype Dtype, long Offset, long[] Shape, long[] Strides);

/// <summary>The pickle of a torch zip checkpoint (<c>data.pkl</c>), read by a small opcode interpreter that admits only
/// what torch's weights-only loader admits and never executes anything: each allowed global is an inert marker, and
/// REDUCE/NEWOBJ/BUILD apply only the handful of rebuild functions a state dict uses, implemented here as data
/// transformations. Any other global, opcode, callable or object shape is an error naming the file.
/// <para>Why not Razorvine.Pickle: it resolves an unknown global to a generic ClassDict instead of failing, implements
/// every opcode with no per-opcode switch, and offers no hook to refuse a REDUCE; restricting it would mean
/// re-implementing its dispatch. This interpreter is the short allowlist itself.</para></summary>
public sealed class TorchPickle
{
    /// <summary>A dict of the pickle (ordered, as <c>OrderedDict</c> and Python 3.7+ dicts are).</summary>
    public sealed class PyDict
    {
        public List<KeyValuePair<object, object?>> Items { get; } = [];
    }

    private sealed record Global(string Module, string Name)
    {
        public string Full => Module + "." + Name;
    }

    private sealed record DtypeMarker(Dtype? Dtype, string Name);

    private sealed class Mark
    {
        public static readonly Mark Instance = new();
    }

    private static readonly Dictionary<string, (Dtype? Dtype, int ItemSize)> StorageTypes = new(StringComparer.Ordinal)
    {
        ["DoubleStorage"] = (Dtype.F64, 8), ["FloatStorage"] = (Dtype.F32, 4), ["HalfStorage"] = (Dtype.F16, 2),
        ["BFloat16Storage"] = (Dtype.BF16, 2), ["LongStorage"] = (Dtype.I64, 8), ["IntStorage"] = (Dtype.I32, 4),
        ["ShortStorage"] = (Dtype.I16, 2), ["CharStorage"] = (Dtype.I8, 1), ["ByteStorage"] = (Dtype.U8, 1),
        ["BoolStorage"] = (Dtype.BOOL, 1), ["UntypedStorage"] = (Dtype.U8, 1),
        ["ComplexFloatStorage"] = (null, 8), ["ComplexDoubleStorage"] = (null, 16),
        ["QInt8Storage"] = (null, 1), ["QUInt8Storage"] = (null, 1), ["QInt32Storage"] = (null, 4),
        ["QUInt4x2Storage"] = (null, 1), ["QUInt2x4Storage"] = (null, 1),
    };

    private static readonly Dictionary<string, Dtype?> DtypeNames = new(StringComparer.Ordinal)
    {
        ["float32"] = Dtype.F32, ["float"] = Dtype.F32, ["float16"] = Dtype.F16, ["half"] = Dtype.F16, ["bfloat16"] = Dtype.BF16,
        ["float64"] = Dtype.F64, ["double"] = Dtype.F64, ["int64"] = Dtype.I64, ["long"] = Dtype.I64, ["int32"] = Dtype.I32,
        ["int"] = Dtype.I32, ["int16"] = Dtype.I16, ["short"] = Dtype.I16, ["int8"] = Dtype.I8, ["uint8"] = Dtype.U8,
        ["bool"] = Dtype.BOOL, ["uint16"] = Dtype.U16, ["uint32"] = Dtype.U32, ["uint64"] = Dtype.U64,
        ["float8_e4m3fn"] = Dtype.F8_E4M3, ["float8_e5m2"] = Dtype.F8_E5M2, ["float8_e4m3fnuz"] = Dtype.F8_E4M3FNUZ,
        ["float8_e5m2fnuz"] = Dtype.F8_E5M2FNUZ, ["float8_e8m0fnu"] = Dtype.F8_E8M0,
        ["complex64"] = null, ["complex128"] = null, ["cfloat"] = null, ["cdouble"] = null,
    };

    /// <summary>Callable or class globals (besides storage and dtype markers), as <c>module.name</c>.</summary>
    private static readonly HashSet<string> Callables = new(StringComparer.Ordinal)
    {
        "collections.OrderedDict", "collections.Counter", "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor_v3", "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
        "torch._tensor._rebuild_from_type_v2", "torch.nn.parameter.Parameter", "torch.Tensor", "torch.Size", "torch.device",
        "_codecs.encode", "builtins.set", "builtins.bytearray",
    };

    private readonly string _path;
    private readonly byte[] _data;
    private int _pos;
    private readonly List<object?> _stack = [];
    private readonly List<int> _marks = [];
    private readonly Dictionary<long, object?> _memo = [];

    private TorchPickle(string path, byte[] data) { _path = path; _data = data; }

    /// <summary>Interprets <paramref name="data"/> (the bytes of <c>data.pkl</c>) and returns the state dict: tensor
    /// name to tensor view, in pickle order.</summary>
    public static List<KeyValuePair<string, TorchTensorRef>> ReadStateDict(string path, byte[] data)
    {
        var root = new TorchPickle(path, data).Run();
        if (root is not PyDict dict)
            throw new TorchCheckpointException(path, TorchCheckpointException.BadPickle,
                $"the pickle holds a {Describe(root)}, not a state dict (a dict of tensor names to tensors)");
        var result = new List<KeyValuePair<string, TorchTensorRef>>(dict.Items.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in dict.Items)
        {
            if (key is not string name)
                throw new TorchCheckpointException(path, TorchCheckpointException.BadPickle, $"the state dict has a {Describe(key)} key; tensor names are strings");
            if (value is not TorchTensorRef tensor)
                throw new TorchCheckpointException(path, TorchCheckpointException.BadPickle,
                    $"state dict entry '{name}' is a {Describe(value)}, not a tensor (a training checkpoint? save model.state_dict() only)");
            if (!seen.Add(name))
                throw new TorchCheckpointException(path, TorchCheckpointException.BadPickle, $"tensor '{name}' appears twice in the state dict");
            result.Add(new(name, tensor));
        }
        return result;
    }

    private TorchCheckpointException Error(string message) => new(_path, TorchCheckpointException.BadPickle, message);

    private object? Run()
    {
        while (true)
        {
            if (_pos >= _data.Length) throw Error($"the pickle ends at byte {_pos} without a STOP opcode (truncated file?)");
            int at = _pos;
            byte op = _data[_pos++];
            switch (op)
            {
                case 0x80: // PROTO
                    int proto = ReadByte();
                    if (proto > 5) throw Error($"pickle protocol {proto} is newer than any this reader knows");
                    break;
                case 0x95: // FRAME: a length prefix only; the bytes follow inline
                    ReadBytes(8);
                    break;
                case (byte)'.': // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Error($"STOP at byte {at} with {_stack.Count} values on the stack (malformed pickle)");
                    return _stack[0];
                case (byte)'c': // GLOBAL
                    Push(ResolveGlobal(ReadLine(), ReadLine()));
                    break;
                case 0x93: // STACK_GLOBAL
                {
                    object? name = Pop(), module = Pop();
                    if (module is not string m || name is not string n) throw Error($"STACK_GLOBAL at byte {at} needs two strings");
                    Push(ResolveGlobal(m, n));
                    break;
                }
                case (byte)'q': Memo(ReadByte()); break; // BINPUT
                case (byte)'r': Memo(ReadUInt32()); break; // LONG_BINPUT
                case 0x94: Memo(_memo.Count); break; // MEMOIZE
                case (byte)'h': Push(Recall(ReadByte(), at)); break; // BINGET
                case (byte)'j': Push(Recall(ReadUInt32(), at)); break; // LONG_BINGET
                case (byte)'(': _marks.Add(_stack.Count); break; // MARK
                case (byte)')': Push(Array.Empty<object?>()); break; // EMPTY_TUPLE
                case (byte)'t': Push(PopMark(at).ToArray()); break; // TUPLE
                case 0x85: { var a = Pop(); Push(new[] { a }); break; } // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; } // TUPLE3
                case (byte)'}': Push(new PyDict()); break; // EMPTY_DICT
                case (byte)']': Push(new List<object?>()); break; // EMPTY_LIST
                case 0x8f: Push(new List<object?>()); break; // EMPTY_SET (kept as a list: nothing reads it)
                case (byte)'s': // SETITEM
                {
                    var value = Pop(); var key = Pop();
                    SetItems(Peek(at), [key, value], at);
                    break;
                }
                case (byte)'u': // SETITEMS
                {
                    var items = PopMark(at);
                    SetItems(Peek(at), items, at);
                    break;
                }
                case (byte)'a': // APPEND
                {
                    var value = Pop();
                    AsList(Peek(at), at).Add(value);
                    break;
                }
                case (byte)'e': // APPENDS
                case 0x90: // ADDITEMS
                {
                    var items = PopMark(at);
                    AsList(Peek(at), at).AddRange(items);
                    break;
                }
                case (byte)'R': // REDUCE
                {
                    var args = Pop(); var callable = Pop();
                    if (args is not object?[] tuple) throw Error($"REDUCE at byte {at} with {Describe(args)} arguments (a tuple is required)");
                    Push(Apply(callable, tuple, at));
                    break;
                }
                case 0x81: // NEWOBJ
                {
                    var args = Pop(); var cls = Pop();
                    if (args is not object?[] tuple) throw Error($"NEWOBJ at byte {at} with {Describe(args)} arguments (a tuple is required)");
                    Push(Apply(cls, tuple, at));
                    break;
                }
                case (byte)'b': // BUILD: state of an OrderedDict (_metadata) or of a Parameter; carries no weights
                {
                    Pop();
                    var target = Peek(at);
                    if (target is not (PyDict or TorchTensorRef))
                        throw Error($"BUILD at byte {at} on a {Describe(target)}; only a dict or a tensor may receive state");
                    break;
                }
                case (byte)'Q': // BINPERSID
                    Push(PersistentLoad(Pop(), at));
                    break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break; // BININT
                case (byte)'K': Push((long)ReadByte()); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break; // BININT2
                case 0x8a: // LONG1
                {
                    int n = ReadByte();
                    var bytes = ReadBytes(n);
                    var big = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
                    if (big < long.MinValue || big > long.MaxValue) throw Error($"an integer of {n} bytes at byte {at} is beyond 64 bits");
                    Push((long)big);
                    break;
                }
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break; // BINFLOAT
                case (byte)'X': Push(Utf8(ReadBytes(CheckedLength(ReadUInt32())))); break; // BINUNICODE
                case 0x8c: Push(Utf8(ReadBytes(ReadByte()))); break; // SHORT_BINUNICODE
                case 0x8d: Push(Utf8(ReadBytes(CheckedLength(ReadUInt64())))); break; // BINUNICODE8
                case (byte)'U': Push(Utf8(ReadBytes(ReadByte()))); break; // SHORT_BINSTRING (Python 2 str)
                case (byte)'T': Push(Utf8(ReadBytes(CheckedLength(BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4)))))); break; // BINSTRING
                case (byte)'C': Push(ReadBytes(ReadByte()).ToArray()); break; // SHORT_BINBYTES
                case (byte)'B': Push(ReadBytes(CheckedLength(ReadUInt32())).ToArray()); break; // BINBYTES
                case 0x8e: Push(ReadBytes(CheckedLength(ReadUInt64())).ToArray()); break; // BINBYTES8
                case (byte)'N': Push(null); break; // NONE
                case 0x88: Push(true); break; // NEWTRUE
                case 0x89: Push(false); break; // NEWFALSE
                case (byte)'0': Pop(); break; // POP
                case (byte)'2': Push(Peek(at)); break; // DUP
                case (byte)'1': PopMark(at); break; // POP_MARK
                default:
                    throw Error($"opcode 0x{op:x2} at byte {at} is not one a weights-only checkpoint uses (refused)");
            }
        }
    }

    private object ResolveGlobal(string module, string name)
    {
        if (module == "torch.tensor") module = "torch._tensor";
        if (module == "__builtin__") module = "builtins";
        if (module == "torch")
        {
            if (StorageTypes.ContainsKey(name)) return new Global(module, name);
            if (DtypeNames.TryGetValue(name, out var dtype)) return new DtypeMarker(dtype, name);
        }
        if (module == "torch.storage" && name == "UntypedStorage") return new Global("torch", name);
        string full = module + "." + name;
        if (!Callables.Contains(full))
            throw new TorchCheckpointException(_path, TorchCheckpointException.ForbiddenGlobal,
                $"the pickle asks for global '{full}', which a weights-only loader does not allow (refused: nothing was executed)");
        return new Global(module, name);
    }

    private object? Apply(object? callable, object?[] args, int at)
    {
        if (callable is not Global g || StorageTypes.ContainsKey(g.Name) && g.Module == "torch")
            throw Error($"a call at byte {at} of a {Describe(callable)}; only allowed rebuild functions can be called");
        switch (g.Full)
        {
            case "collections.OrderedDict" or "collections.Counter":
                if (args.Length != 0) throw Error($"{g.Full} at byte {at} called with arguments");
                return new PyDict();
            case "torch._utils._rebuild_tensor_v2":
                Arity(g, args, 6, 7, at);
                return Tensor(args[0], null, args[1], args[2], args[3], at);
            case "torch._utils._rebuild_tensor":
                Arity(g, args, 4, 4, at);
                return Tensor(args[0], null, args[1], args[2], args[3], at);
            case "torch._utils._rebuild_tensor_v3":
                Arity(g, args, 7, 8, at);
                if (args[6] is not DtypeMarker marker) throw Error($"{g.Full} at byte {at}: argument 7 must be a torch dtype");
                return Tensor(args[0], marker, args[1], args[2], args[3], at);
            case "torch._utils._rebuild_parameter" or "torch._utils._rebuild_parameter_with_state" or "torch.nn.parameter.Parameter":
                if (args.Length < 1 || args[0] is not TorchTensorRef data) throw Error($"{g.Full} at byte {at} without a tensor");
                return data;
            case "torch._tensor._rebuild_from_type_v2":
                Arity(g, args, 4, 4, at);
                if (args[0] is not Global inner || inner.Full == g.Full || args[2] is not object?[] innerArgs)
                    throw Error($"{g.Full} at byte {at} must wrap a rebuild function and its argument tuple");
                if (args[1] is not Global { Full: "torch.Tensor" or "torch.nn.parameter.Parameter" })
                    throw Error($"{g.Full} at byte {at} rebuilds a tensor subclass ({Describe(args[1])}); only plain tensors and parameters are read");
                var result = Apply(inner, innerArgs, at);
                if (result is not TorchTensorRef) throw Error($"{g.Full} at byte {at} did not produce a tensor");
                return result;
            case "torch.Size":
                return args.Length == 0 ? Array.Empty<object?>() : args[0] as object?[] ?? throw Error($"torch.Size at byte {at} needs a tuple");
            case "torch.device":
                return args.Length >= 1 && args[0] is string device ? device : throw Error($"torch.device at byte {at} needs a string");
            case "_codecs.encode":
                Arity(g, args, 2, 2, at);
                if (args[0] is not string text || args[1] is not "latin1" and not "latin-1") throw Error($"_codecs.encode at byte {at} needs (str, 'latin1')");
                return Encoding.Latin1.GetBytes(text);
            case "builtins.set" or "builtins.bytearray":
                return args.Length == 0 ? new List<object?>() : args[0] switch
                {
                    List<object?> list => new List<object?>(list),
                    byte[] bytes => bytes,
                    _ => throw Error($"{g.Full} at byte {at} of a {Describe(args[0])}"),
                };
            default:
                throw Error($"{g.Full} at byte {at} cannot be called");
        }
    }

    private void Arity(Global g, object?[] args, int min, int max, int at)
    {
        if (args.Length < min || args.Length > max)
            throw Error($"{g.Full} at byte {at} called with {args.Length} arguments (expected {(min == max ? min.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{min}-{max}")})");
    }

    private TorchTensorRef Tensor(object? storage, DtypeMarker? dtype, object? offset, object? size, object? stride, int at)
    {
        if (storage is not TorchStorageRef s) throw Error($"a tensor at byte {at} whose storage is a {Describe(storage)}");
        if (offset is not long off) throw Error($"a tensor at byte {at} whose storage offset is a {Describe(offset)}");
        long[] shape = Longs(size, "size", at), strides = Longs(stride, "stride", at);
        if (shape.Length != strides.Length) throw Error($"a tensor at byte {at} with {shape.Length} sizes and {strides.Length} strides");
        Dtype type;
        if (dtype is not null)
        {
            if (dtype.Dtype is not { } t) throw new TorchCheckpointException(_path, TorchCheckpointException.BadTensor, $"a tensor of dtype torch.{dtype.Name} is not supported");
            if (s.TypeName != "UntypedStorage" && s.Dtype != t)
                throw Error($"a tensor at byte {at} of dtype torch.{dtype.Name} over a {s.TypeName}");
            type = t;
        }
        else
        {
            if (s.TypeName == "UntypedStorage") throw Error($"a tensor at byte {at} over an UntypedStorage without a dtype");
            type = s.Dtype;
        }
        return new TorchTensorRef(s, type, off, shape, strides);
    }

    private long[] Longs(object? value, string what, int at)
    {
        if (value is not object?[] tuple) throw Error($"a tensor at byte {at} whose {what} is a {Describe(value)}");
        var result = new long[tuple.Length];
        for (int i = 0; i < tuple.Length; i++)
            result[i] = tuple[i] as long? ?? throw Error($"a tensor at byte {at} whose {what} holds a {Describe(tuple[i])}");
        return result;
    }

    private object PersistentLoad(object? pid, int at)
    {
        if (pid is not object?[] { Length: 5 } t || t[0] is not "storage")
            throw Error($"persistent id at byte {at} is a {Describe(pid)}; only ('storage', type, key, location, numel) is read (a legacy-format pickle?)");
        if (t[1] is not Global { Module: "torch" } type || !StorageTypes.TryGetValue(type.Name, out var info))
            throw Error($"persistent id at byte {at} names storage type {Describe(t[1])}");
        if (t[2] is not string key) throw Error($"persistent id at byte {at} has a {Describe(t[2])} key");
        if (t[4] is not long numel || numel < 0) throw Error($"persistent id at byte {at} has element count {Describe(t[4])}");
        if (info.Dtype is not { } dtype)
            throw new TorchCheckpointException(_path, TorchCheckpointException.BadTensor, $"storage '{key}' is a torch.{type.Name}; complex and quantized tensors are not supported");
        return new TorchStorageRef(key, dtype, type.Name, numel);
    }

    private void SetItems(object? target, List<object?> items, int at)
    {
        if (target is not PyDict dict) throw Error($"SETITEM at byte {at} on a {Describe(target)}; only a dict takes items");
        if (items.Count % 2 != 0) throw Error($"SETITEMS at byte {at} with an odd number of values");
        for (int i = 0; i < items.Count; i += 2)
        {
            var key = items[i] ?? throw Error($"a None dict key at byte {at}");
            if (key is not (string or long or bool or double)) throw Error($"a {Describe(key)} dict key at byte {at}");
            dict.Items.Add(new(key, items[i + 1]));
        }
    }

    private List<object?> AsList(object? target, int at) =>
        target as List<object?> ?? throw Error($"APPEND at byte {at} on a {Describe(target)}; only a list takes items");

    private void Push(object? value) => _stack.Add(value);

    private object? Pop()
    {
        int floor = _marks.Count > 0 ? _marks[^1] : 0;
        if (_stack.Count <= floor) throw Error($"stack underflow at byte {_pos - 1} (malformed pickle)");
        var value = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    private object? Peek(int at)
    {
        int floor = _marks.Count > 0 ? _marks[^1] : 0;
        if (_stack.Count <= floor) throw Error($"stack underflow at byte {at} (malformed pickle)");
        return _stack[^1];
    }

    private List<object?> PopMark(int at)
    {
        if (_marks.Count == 0) throw Error($"no MARK for the opcode at byte {at} (malformed pickle)");
        int mark = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(mark, _stack.Count - mark);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    private void Memo(long index)
    {
        if (_stack.Count == 0 || _marks.Count > 0 && _stack.Count <= _marks[^1]) throw Error($"memo store with an empty stack at byte {_pos}");
        _memo[index] = _stack[^1];
    }

    private object? Recall(long index, int at) =>
        _memo.TryGetValue(index, out var value) ? value : throw Error($"memo entry {index} read at byte {at} was never stored");

    private int ReadByte()
    {
        if (_pos >= _data.Length) throw Error("the pickle is truncated");
        return _data[_pos++];
    }

    private ReadOnlySpan<byte> ReadBytes(int n)
    {
        if (n < 0 || n > _data.Length - _pos) throw Error($"the pickle is truncated (needs {n} bytes at byte {_pos}, {_data.Length - _pos} left)");
        var span = _data.AsSpan(_pos, n);
        _pos += n;
        return span;
    }

    private uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4));
    private ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8));

    private int CheckedLength(ulong n) =>
        n <= (ulong)(_data.Length - _pos) ? (int)n : throw Error($"a length of {n} bytes at byte {_pos} runs past the end of the pickle (truncated file?)");

    private int CheckedLength(long n) => n < 0 ? throw Error($"a negative length at byte {_pos}") : CheckedLength((ulong)n);

    private string ReadLine()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0 || end - _pos > 256) throw Error($"an unterminated GLOBAL name at byte {_pos}");
        string line = Encoding.UTF8.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return line;
    }

    private string Utf8(ReadOnlySpan<byte> bytes)
    {
        try { return new UTF8Encoding(false, true).GetString(bytes); }
        catch (DecoderFallbackException) { throw Error($"a string before byte {_pos} is not valid UTF-8"); }
    }

    private static string Describe(object? value) => value switch
    {
        null => "None",
        string s => $"string '{(s.Length > 40 ? s[..40] + "..." : s)}'",
        long l => $"integer {l.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
        double => "float",
        bool => "bool",
        byte[] => "bytes",
        object?[] => "tuple",
        List<object?> => "list",
        PyDict => "dict",
        Global g => $"global {g.Full}",
        DtypeMarker d => $"dtype torch.{d.Name}",
        TorchStorageRef => "storage",
        TorchTensorRef => "tensor",
        _ => value.GetType().Name,
    };
}
