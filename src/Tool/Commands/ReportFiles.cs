using DotnetMerge.Analysis.Reports;
using DotnetMerge.Engine;

namespace DotnetMerge.Tool.Commands;

/// <summary>Writes report files (HTML, JSON, SVG and PNG figures) whole or not at all: to a temporary sibling, then renamed
/// into place; an existing file is replaced only with --force.</summary>
internal static class ReportFiles
{
    public static void CheckTarget(string path, bool force)
    {
        if (Directory.Exists(path)) throw Error(path, "is a directory; give a file name", null);
        if (File.Exists(path) && !force) throw Error(path, "exists; pass --force to replace it, or choose another name", null);
    }

    public static void CheckDirectory(string path, bool force)
    {
        if (File.Exists(path)) throw Error(path, "is a file; --svg and --png take a directory", null);
        if (Directory.Exists(path) && Directory.EnumerateFileSystemEntries(path).Any() && !force)
            throw Error(path, "is not empty; pass --force to write the figures into it anyway, or choose another directory", null);
    }

    public static void Write(string path, bool force, Action<Stream> write)
    {
        var temp = path + ".tmp-" + Environment.ProcessId;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write)) write(stream);
            File.Move(temp, path, overwrite: force);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw Error(path, $"cannot be written ({e.Message})", e, ErrorIds.OutputWriteFailed);
        }
    }

    public static void WriteFigures(string directory, bool force, IReadOnlyList<ReportFigure> figures)
    {
        foreach (var figure in figures)
            Write(Path.Combine(directory, figure.Id + ".svg"), force, stream =>
            {
                using var w = new StreamWriter(stream);
                w.Write("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
                w.Write(figure.Svg);
            });
    }

    /// <summary>Each figure as <c>ID.png</c>: the same SVG as <see cref="WriteFigures"/>, rasterised.</summary>
    public static void WritePngFigures(string directory, bool force, IReadOnlyList<ReportFigure> figures, Rendering.PngRenderer renderer)
    {
        foreach (var figure in figures)
        {
            var png = renderer.Render(figure.Svg);
            Write(Path.Combine(directory, figure.Id + ".png"), force, stream => stream.Write(png));
        }
    }

    private static MergeException Error(string path, string what, Exception? inner, string id = ErrorIds.OutputLocation)
        => new(MergeErrorKind.Output, id, $"{path}: {what}", inner);
}
