using System.Globalization;
using System.Text;
using DotnetMerge.Definitions;
using DotnetMerge.Models;

namespace DotnetMerge.Engine;

/// <summary>Reads a definition file's text: only a regular file (a FIFO would block, /dev/zero never ends), at most
/// <see cref="DefinitionLimits.MaxLength"/> bytes, in chunks with the cancellation token checked between them.</summary>
public static class DefinitionFile
{
    private const int ChunkSize = 64 * 1024;

    /// <summary>The text of <paramref name="path"/> (UTF-8, or the encoding its byte-order mark names). Throws
    /// <see cref="DefinitionErrorsException"/> (DMRG0020) for a non-regular or too large file and
    /// <see cref="MergeException"/> when the file cannot be read.</summary>
    public static string Read(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        cancellationToken.ThrowIfCancellationRequested();
        var kind = PathKind.Of(path);
        if (kind == PathKind.Kind.Missing)
            throw new MergeException(MergeErrorKind.Definition, ErrorIds.DefinitionUnreadable, $"cannot read the merge definition '{path}': the file does not exist");
        if (kind is not (PathKind.Kind.RegularFile or PathKind.Kind.NoAccess))
            throw Refused(path, $"the definition path {PathKind.Describe(kind, path)}, not a regular file: a merge definition is read from a file",
                kind is PathKind.Kind.Fifo or PathKind.Kind.CharacterDevice or PathKind.Kind.Socket
                    ? "save the definition to a file first (reading a pipe or device could block or never end)" : null);

        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            bytes = ReadBounded(stream, path, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MergeException(MergeErrorKind.Definition, ErrorIds.DefinitionUnreadable, $"cannot read the merge definition '{path}': {e.Message}", e);
        }
        using var reader = new StreamReader(new MemoryStream(bytes), new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    private static byte[] ReadBounded(Stream stream, string path, CancellationToken cancellationToken)
    {
        if (stream.CanSeek && stream.Length > DefinitionLimits.MaxLength)
            throw TooLarge(path, stream.Length.ToString("N0", CultureInfo.InvariantCulture) + " bytes");
        var result = new MemoryStream();
        var chunk = new byte[ChunkSize];
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int read = stream.Read(chunk, 0, chunk.Length);
            if (read == 0) return result.ToArray();
            if (result.Length + read > DefinitionLimits.MaxLength)
                throw TooLarge(path, "more than " + DefinitionLimits.MaxLengthText); // grew while read, or reports no length
            result.Write(chunk, 0, read);
        }
    }

    private static DefinitionErrorsException TooLarge(string path, string size)
        => Refused(path, $"the definition file is {size}, over the limit of {DefinitionLimits.MaxLengthText}",
            "a merge definition is a few kilobytes: is this the right file?");

    private static DefinitionErrorsException Refused(string path, string message, string? hint)
        => new([DiagnosticDescriptors.DefinitionTooLarge.Create(new SourceLocation(path, 0, 0), hint, message)]);
}
