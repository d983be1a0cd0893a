using System.Runtime.InteropServices;
using DotnetMerge.Engine;
using SkiaSharp;
using Svg.Skia;

namespace DotnetMerge.Tool.Rendering;

/// <summary>Encodes a chart's SVG as PNG (<c>analyze --png</c>): the same drawing as the SVG file, rasterised by Svg.Skia
/// on SkiaSharp at <see cref="Scale"/> times the SVG's size, on a white background. The tool carries SkiaSharp's and
/// HarfBuzz's native libraries for linux-x64 only; <see cref="Open"/> loads them before any input is read, and where
/// they cannot load it fails with DMRG0963 (exit 4), naming <c>--svg</c> as the way that works everywhere.</summary>
internal sealed class PngRenderer
{
    /// <summary>Pixels per SVG unit: charts are drawn 2x, readable on slides and high-density screens.</summary>
    public const int Scale = 2;

    private PngRenderer() { }

    /// <summary>Loads the native libraries (<paramref name="loadNative"/> replaces that step in tests, to make it fail).</summary>
    public static PngRenderer Open(Action? loadNative = null)
    {
        try
        {
            (loadNative ?? LoadNative)();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or TypeInitializationException)
        {
            throw new MergeException(MergeErrorKind.Device, ErrorIds.PngRendererUnavailable,
                $"--png cannot render on {RuntimeInformation.RuntimeIdentifier}: its renderer's native library (SkiaSharp) does not load ({e.Message}); " +
                "this build carries it for linux-x64 only. Use --svg DIR (the same charts, on every system) and convert them, or run --png on linux-x64", e);
        }
        return new PngRenderer();
    }

    // A first call into each native library: libSkiaSharp (drawing, PNG encoding) and libHarfBuzzSharp (text shaping).
    private static void LoadNative()
    {
        using (var bitmap = new SKBitmap(1, 1)) bitmap.Erase(SKColors.White);
        using var blob = HarfBuzzSharp.Blob.FromStream(new MemoryStream(new byte[1]));
    }

    /// <summary>The PNG of one SVG document whose root has <c>width</c> and <c>height</c> (our charts': equal to its viewBox).</summary>
    public byte[] Render(string svgText)
    {
        using var svg = SKSvg.CreateFromSvg(svgText);
        var picture = svg.Picture ?? throw new InvalidOperationException("Svg.Skia drew no picture from a chart's SVG");
        var size = picture.CullRect;
        int width = (int)Math.Ceiling(size.Width * Scale), height = (int)Math.Ceiling(size.Height * Scale);
        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException($"SkiaSharp could not make a {width}x{height} surface");
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        canvas.Scale(Scale);
        canvas.DrawPicture(picture);
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
