using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using DotnetMerge.Numerics;

namespace DotnetMerge.Safetensors;

/// <summary>A parsed and fully validated safetensors header. Every rule of the reference reader
/// (reference/formats-and-papers.md §A.4) is checked, in the same order, each with its own <see cref="SafetensorsError"/>;
/// duplicate names and a tensor called <c>__metadata__</c> are rejected too.</summary>
public sealed class SafetensorsHeader
{
    /// <summary>Largest accepted header length N (the reference implementation's limit).</summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>The reserved top-level key for string metadata.</summary>
    public const string MetadataKey = "__metadata__";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly Dictionary<string, TensorInfo> _byName;

    private SafetensorsHeader(List<TensorInfo> tensors, Dictionary<string, TensorInfo> byName, Dictionary<string, string> metadata, long headerLength)
    {
        Tensors = tensors; _byName = byName; Metadata = metadata; HeaderLength = headerLength;
    }

    /// <summary>Tensors sorted by data offset.</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }

    /// <summary>The <c>__metadata__</c> string map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>N: the JSON header's length in bytes, padding included.</summary>
    public long HeaderLength { get; }

    /// <summary>File offset of the data section (8 + N).</summary>
    public long DataStart => 8 + HeaderLength;

    /// <summary>Total bytes of tensor data.</summary>
    public long DataLength => Tensors.Count == 0 ? 0 : Tensors[^1].End;

    public TensorInfo? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Parses and validates a header. <paramref name="headerBytes"/> starts at file offset 0 and holds at least
    /// the 8-byte length prefix and the N header bytes (it may be shorter only when the file itself is);
    /// <paramref name="fileLength"/> is the whole file's length, used for the coverage checks.</summary>
    public static SafetensorsHeader Parse(ReadOnlySpan<byte> headerBytes, long fileLength, string filePath)
    {
        ArgumentNullException.ThrowIfNull(filePath);
        long n = ReadHeaderLength(headerBytes, fileLength, filePath);
        if (headerBytes.Length < 8 + n)
            throw new ArgumentException($"{filePath}: {headerBytes.Length} header bytes were given but the header needs {8 + n}", nameof(headerBytes));
        var json = headerBytes.Slice(8, (int)n);

        try
        {
            StrictUtf8.GetCharCount(json);
        }
        catch (DecoderFallbackException ex)
        {
            throw Error(SafetensorsError.InvalidUtf8, filePath, null,
                $"the header is not valid UTF-8 (bad byte at header offset {ex.Index}); this is not a safetensors file or it is corrupted", ex);
        }

        var tensors = new List<TensorInfo>();
        var byName = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        ParseJson(json, filePath, tensors, byName, metadata);
        Validate(tensors, n, fileLength, filePath);
        return new SafetensorsHeader(tensors, byName, metadata, n);
    }

    /// <summary>Checks 1-4 of §A.4 on the 8-byte prefix: returns N.</summary>
    internal static long ReadHeaderLength(ReadOnlySpan<byte> prefix, long fileLength, string filePath)
    {
        if (fileLength < 8 || prefix.Length < 8)
            throw Error(SafetensorsError.HeaderTooSmall, filePath, null,
                $"not a safetensors file: it is {Math.Min(fileLength, prefix.Length)} bytes long, shorter than the 8-byte header length prefix");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderLength)
            throw Error(SafetensorsError.HeaderTooLarge, filePath, null,
                $"header length {n} exceeds the 100,000,000-byte limit; this is not a safetensors file or it is corrupted");
        if (8 + (long)n > fileLength)
            throw Error(SafetensorsError.InvalidHeaderLength, filePath, null,
                $"header length {n} runs past the end of the file (needs {8 + (long)n} bytes, the file has {fileLength}); the file is truncated or not a safetensors file");
        return (long)n;
    }

    private static void ParseJson(ReadOnlySpan<byte> json, string filePath, List<TensorInfo> tensors,
        Dictionary<string, TensorInfo> byName, Dictionary<string, string> metadata)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 64 });
        bool sawMetadata = false;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw BadJson(filePath, null, "the header must be a JSON object");
            while (true)
            {
                if (!reader.Read()) throw BadJson(filePath, null, "the header JSON ends early");
                if (reader.TokenType == JsonTokenType.EndObject) break;
                string name = reader.GetString()!;
                if (name == MetadataKey)
                {
                    if (sawMetadata) throw Error(SafetensorsError.DuplicateName, filePath, null, $"'{MetadataKey}' appears twice in the header");
                    sawMetadata = true;
                    ReadMetadata(ref reader, filePath, metadata);
                    continue;
                }
                if (byName.ContainsKey(name))
                    throw Error(SafetensorsError.DuplicateName, filePath, name, "the name appears twice in the header (each tensor must be listed once)");
                var info = ReadTensor(ref reader, filePath, name);
                byName.Add(name, info);
                tensors.Add(info);
            }
            if (reader.Read()) throw BadJson(filePath, null, "unexpected content after the header object");
        }
        catch (JsonException ex)
        {
            throw BadJson(filePath, null, $"malformed JSON ({FirstLine(ex.Message)})", ex);
        }
        catch (InvalidOperationException ex)
        {
            // Utf8JsonReader.GetString on an escape that is not text, such as a lone surrogate "\ud800" (serde_json rejects it too).
            throw BadJson(filePath, null, $"a name or string holds an escape that is not text, such as a lone UTF-16 surrogate '\\ud800' ({FirstLine(ex.Message)})", ex);
        }
    }

    private static void ReadMetadata(ref Utf8JsonReader reader, string filePath, Dictionary<string, string> metadata)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Null) return; // "__metadata__": null means "no metadata"
        if (reader.TokenType != JsonTokenType.StartObject)
            throw BadJson(filePath, null, $"'{MetadataKey}' must be an object mapping strings to strings, found {Describe(reader.TokenType)}");
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            string key = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
            {
                if (key is "dtype" or "shape" or "data_offsets")
                    throw Error(SafetensorsError.ReservedName, filePath, MetadataKey,
                        $"a tensor may not be named '{MetadataKey}': the name is reserved for the string metadata map");
                throw BadJson(filePath, null, $"metadata value '{key}' must be a string, found {Describe(reader.TokenType)}");
            }
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw BadJson(filePath, null, $"metadata key '{key}' appears twice");
        }
    }

    private static TensorInfo ReadTensor(ref Utf8JsonReader reader, string filePath, string name)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
            throw BadJson(filePath, name, $"the entry must be an object with dtype, shape and data_offsets, found {Describe(reader.TokenType)}");
        Dtype? dtype = null;
        long[]? shape = null, offsets = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            string field = reader.GetString()!;
            switch (field)
            {
                case "dtype":
                    if (dtype is not null) throw BadJson(filePath, name, "field 'dtype' appears twice");
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String)
                        throw BadJson(filePath, name, $"'dtype' must be a string, found {Describe(reader.TokenType)}");
                    string text = reader.GetString()!;
                    if (!DtypeInfo.TryParseHeaderName(text, out var parsed))
                        throw Error(SafetensorsError.UnknownDtype, filePath, name,
                            $"unknown dtype '{text}' (known: {string.Join(", ", Enum.GetNames<Dtype>())})");
                    dtype = parsed;
                    break;
                case "shape":
                    if (shape is not null) throw BadJson(filePath, name, "field 'shape' appears twice");
                    shape = ReadIntegerArray(ref reader, filePath, name, "shape");
                    break;
                case "data_offsets":
                    if (offsets is not null) throw BadJson(filePath, name, "field 'data_offsets' appears twice");
                    offsets = ReadIntegerArray(ref reader, filePath, name, "data_offsets");
                    if (offsets.Length != 2)
                        throw BadJson(filePath, name, $"'data_offsets' must have exactly 2 entries [BEGIN, END], found {offsets.Length}");
                    break;
                default:
                    reader.Skip(); // unknown fields are ignored, as the reference reader does
                    break;
            }
        }
        if (dtype is null) throw BadJson(filePath, name, "missing field 'dtype'");
        if (shape is null) throw BadJson(filePath, name, "missing field 'shape'");
        if (offsets is null) throw BadJson(filePath, name, "missing field 'data_offsets'");
        return new TensorInfo(name, dtype.Value, shape, offsets[0], offsets[1]);
    }

    private static long[] ReadIntegerArray(ref Utf8JsonReader reader, string filePath, string name, string field)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartArray)
            throw BadJson(filePath, name, $"'{field}' must be an array of non-negative integers, found {Describe(reader.TokenType)}");
        var values = new List<long>(4);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number)
                throw BadJson(filePath, name, $"'{field}' must contain only non-negative integers, found {Describe(reader.TokenType)}");
            if (reader.TryGetInt64(out long v))
            {
                if (v < 0) throw BadJson(filePath, name, $"'{field}' must contain only non-negative integers, found {v}");
                values.Add(v);
            }
            else if (reader.TryGetUInt64(out ulong big))
            {
                throw field == "shape"
                    ? Error(SafetensorsError.ValidationOverflow, filePath, name, $"dimension {big} is too large")
                    : Error(SafetensorsError.InvalidOffset, filePath, name, $"offset {big} is too large");
            }
            else
            {
                throw BadJson(filePath, name, $"'{field}' must contain only non-negative integers, found {Encoding.UTF8.GetString(reader.ValueSpan)}");
            }
        }
        return values.ToArray();
    }

    /// <summary>Steps 7-8 of §A.4: contiguous offsets from 0, sizes matching shape × dtype, exact coverage of the file.</summary>
    private static void Validate(List<TensorInfo> tensors, long n, long fileLength, string filePath)
    {
        tensors.Sort(static (a, b) =>
        {
            int c = a.Begin.CompareTo(b.Begin);
            if (c == 0) c = a.End.CompareTo(b.End);
            return c != 0 ? c : string.CompareOrdinal(a.Name, b.Name);
        });
        long cursor = 0;
        TensorInfo? previous = null;
        foreach (var t in tensors)
        {
            if (t.End < t.Begin)
                throw Error(SafetensorsError.InvalidOffset, filePath, t.Name, $"data_offsets [{t.Begin}, {t.End}] end before they begin");
            if (t.Begin != cursor)
            {
                string detail = t.Begin < cursor
                    ? $"data_offsets [{t.Begin}, {t.End}] overlap tensor '{previous!.Name}' [{previous.Begin}, {previous.End}]"
                    : previous is null
                        ? $"data_offsets [{t.Begin}, {t.End}] leave a hole: the first tensor must start at offset 0"
                        : $"data_offsets [{t.Begin}, {t.End}] leave a hole after tensor '{previous.Name}', which ends at {cursor}";
                throw Error(SafetensorsError.InvalidOffset, filePath, t.Name, detail + " (tensor data must be contiguous from 0, without holes or overlaps)");
            }
            long bits;
            try
            {
                long count = 1;
                foreach (long d in t.Shape) count = checked(count * d);
                bits = checked(count * t.Dtype.BitSize());
            }
            catch (OverflowException)
            {
                throw Error(SafetensorsError.ValidationOverflow, filePath, t.Name,
                    $"the byte size of shape {FormatShape(t.Shape)} in {t.Dtype.HeaderName()} overflows");
            }
            if (bits % 8 != 0)
                throw Error(SafetensorsError.MisalignedSlice, filePath, t.Name,
                    $"{bits / t.Dtype.BitSize()} {t.Dtype.HeaderName()} elements ({bits} bits) do not fill a whole number of bytes");
            if (t.End - t.Begin != bits / 8)
                throw Error(SafetensorsError.TensorInvalidInfo, filePath, t.Name,
                    $"{t.Dtype.HeaderName()} {FormatShape(t.Shape)} needs {bits / 8} bytes but data_offsets [{t.Begin}, {t.End}] span {t.End - t.Begin}");
            cursor = t.End;
            previous = t;
        }
        long available = fileLength - 8 - n;
        if (cursor != available)
        {
            long expected = cursor + 8 + n;
            string detail = cursor > available
                ? $"the file is truncated: expected {expected} bytes, found {fileLength}"
                : $"{available - cursor} unexpected bytes after the last tensor's data (expected {expected} bytes, found {fileLength})";
            throw Error(SafetensorsError.MetadataIncompleteBuffer, filePath, null, detail);
        }
    }

    internal static string FormatShape(long[] shape) => "[" + string.Join(", ", shape) + "]";

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };

    private static string FirstLine(string text)
    {
        int i = text.IndexOfAny(['\r', '\n']);
        return i < 0 ? text : text.Substring(0, i);
    }

    private static SafetensorsFormatException BadJson(string filePath, string? tensor, string detail, Exception? inner = null) =>
        Error(SafetensorsError.InvalidJson, filePath, tensor, "invalid header: " + detail, inner);

    internal static SafetensorsFormatException Error(SafetensorsError error, string filePath, string? tensor, string detail, Exception? inner = null) =>
        new(error, filePath, tensor, detail, inner);
}
