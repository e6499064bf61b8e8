using ScottPlot;
using SkiaSharp;

namespace Asd.Cli.Plotting;

/// <summary>
/// The one font every picture uses, embedded in the executable (tools/make_plot_font.py: DejaVu Sans cut down to
/// the characters plots need). SkiaSharp otherwise takes fonts from the machine and, on a machine with none (a board,
/// a slim container), draws no text at all without an error; embedded, the pictures look the same everywhere.
/// </summary>
internal static class PlotFonts
{
    /// <summary>The font name plots ask ScottPlot for; no installed font can shadow it.</summary>
    public const string Name = "asd-sans";

    private static readonly Lock Gate = new();
    private static bool _registered;

    /// <summary>Puts the embedded font first among ScottPlot's font resolvers (once per process; thread-safe).</summary>
    public static void Register()
    {
        lock (Gate)
        {
            if (_registered)
            {
                return;
            }

            try
            {
                Fonts.FontResolvers.Insert(0, new EmbeddedFontResolver(Load("asd.plot.sans.ttf"), Load("asd.plot.sans-bold.ttf")));
                Fonts.Default = Name;
                Fonts.Sans = Name;
            }
            catch (Exception e) when (MissingNativeLibrary(e) is { } missing)
            {
                // The first touch of SkiaSharp: a folder copied without libSkiaSharp.so fails here, not mid-picture.
                throw new InvalidOperationException(
                    $"cannot draw the picture: SkiaSharp's native library is missing ({missing.Message.Split('\n')[0].Trim()}). "
                    + "Copy libSkiaSharp.so and libHarfBuzzSharp.so from the published folder beside asd, or pass --no-plot.", e);
            }

            _registered = true;
        }
    }

    /// <summary>The DllNotFoundException inside <paramref name="e"/> (type initializers wrap it), or null.</summary>
    internal static DllNotFoundException? MissingNativeLibrary(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is DllNotFoundException missing)
            {
                return missing;
            }
        }

        return null;
    }

    private static SKTypeface Load(string resource)
    {
        using Stream stream = typeof(PlotFonts).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The plot font resource '{resource}' is missing from the executable.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        using SKData data = SKData.CreateCopy(copy.ToArray());
        return SKTypeface.FromData(data) ?? throw new InvalidOperationException($"The plot font resource '{resource}' is not a font SkiaSharp can read.");
    }

    private sealed class EmbeddedFontResolver(SKTypeface regular, SKTypeface bold) : IFontResolver
    {
        public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing spacing) =>
            fontName == Name ? (weight >= FontWeight.SemiBold ? bold : regular) : null;

        public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) =>
            CreateTypeface(fontName, bold ? FontWeight.Bold : FontWeight.Normal, italic ? FontSlant.Italic : FontSlant.Upright, FontSpacing.Normal);
    }
}
