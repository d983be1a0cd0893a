using System.Buffers.Binary;
using System.Globalization;
using System.Text.RegularExpressions;
using DotnetMerge.Engine;
using DotnetMerge.Tool.Rendering;
using StbImageSharp;

namespace DotnetMerge.Tool.Tests.Analysis;

/// <summary><c>analyze --png DIR</c>: one PNG per chart, drawn from the chart's SVG at 2x; DMRG0963 where the renderer's
/// native library does not load.</summary>
public sealed class AnalyzePngTests : IDisposable
{
    private readonly TestWorkspace _ws = new();

    [Fact]
    public async Task Every_chart_is_a_png_of_its_svg_at_twice_its_size_and_is_drawn()
    {
        await _ws.BaseAsync();
        await _ws.FineTuneAsync("attn", "self_attn", 0);
        await _ws.FineTuneAsync("mlp", "mlp", 2);
        var config = _ws.Write("merge.yaml", "merge_method: ties\nbase_model: models/base\nmodels:\n" +
            "  - model: models/attn\n    parameters: {weight: 1.0, density: 0.5}\n  - model: models/mlp\n    parameters: {weight: 1.0, density: 0.5}\ndtype: bfloat16\n");
        var svg = _ws.PathOf("svg");
        var png = _ws.PathOf("png");
        var r = await CliRunner.RunAsync("analyze", config, "--svg", svg, "--png", png);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains($"wrote {png}", r.Out);

        var svgNames = Directory.GetFiles(svg, "*.svg").Select(f => Path.GetFileNameWithoutExtension(f)!).Order().ToList();
        var pngNames = Directory.GetFiles(png).Select(f => Path.GetFileName(f)!).Order().ToList();
        Assert.True(svgNames.Count >= 4, string.Join(", ", svgNames));
        Assert.Equal(svgNames.Select(n => n + ".png").Order(), pngNames); // the same charts, the same names, nothing else (no temporary file)
        byte[] signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        foreach (var name in svgNames)
        {
            var viewBox = Regex.Match(File.ReadAllText(Path.Combine(svg, name + ".svg")), "viewBox=\"0 0 ([0-9.]+) ([0-9.]+)\"");
            Assert.True(viewBox.Success, name);
            int expectedWidth = (int)Math.Ceiling(double.Parse(viewBox.Groups[1].Value, CultureInfo.InvariantCulture) * 2);
            int expectedHeight = (int)Math.Ceiling(double.Parse(viewBox.Groups[2].Value, CultureInfo.InvariantCulture) * 2);

            var bytes = File.ReadAllBytes(Path.Combine(png, name + ".png"));
            Assert.Equal(signature, bytes[..8]);
            Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4)); // the first chunk, as PNG requires
            Assert.Equal(expectedWidth, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
            Assert.Equal(expectedHeight, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));

            var image = ImageResult.FromMemory(bytes, ColorComponents.RedGreenBlue);
            Assert.Equal((expectedWidth, expectedHeight), (image.Width, image.Height));
            int pixels = image.Width * image.Height, drawn = 0, dark = 0;
            for (int i = 0; i < pixels; i++)
            {
                int red = image.Data[3 * i], green = image.Data[3 * i + 1], blue = image.Data[3 * i + 2];
                if (red < 250 || green < 250 || blue < 250) drawn++;      // anything but the white background
                if (red + green + blue < 3 * 96) dark++;                   // text, axes
            }
            Assert.True(drawn > pixels / 100, $"{name}.png: only {drawn} of {pixels} pixels are not background");
            Assert.True(dark > 200, $"{name}.png: only {dark} dark pixels (no text or axes drawn?)");
        }
    }

    [Fact]
    public void A_renderer_whose_native_library_does_not_load_is_DMRG0963_exit_4_pointing_to_svg()
    {
        var e = Assert.Throws<MergeException>(() => PngRenderer.Open(() => throw new DllNotFoundException("Unable to load shared library 'libSkiaSharp'")));
        Assert.Equal(ErrorIds.PngRendererUnavailable, e.Id);
        Assert.Equal("DMRG0963", e.Id);
        Assert.Equal(ExitCodes.DeviceUnavailable, Cli.ExitCode(e.Kind));
        Assert.Contains("--svg", e.Message);
        Assert.Contains("linux-x64", e.Message);
        Assert.Contains("libSkiaSharp", e.Message);
        // A type initializer that fails on the native library (how SkiaSharp reports it) is the same error, not a bug.
        var typeInit = Assert.Throws<MergeException>(() => PngRenderer.Open(() => throw new TypeInitializationException("SkiaSharp.SKImageInfo", new DllNotFoundException("libSkiaSharp"))));
        Assert.Equal("DMRG0963", typeInit.Id);
    }

    [Fact]
    public async Task The_png_option_fails_before_the_inputs_are_read_when_its_directory_is_a_file()
    {
        var file = _ws.Write("figures.png", "not a directory");
        var r = await CliRunner.RunAsync("analyze", _ws.PathOf("missing.yaml"), "--png", file);
        Assert.Equal(ExitCodes.OutputError, r.ExitCode);
        Assert.Contains("is a file; --svg and --png take a directory", r.Err);
    }

    public void Dispose() => _ws.Dispose();
}
