namespace Asd.Cli.Plotting;

/// <summary>A drawing colour; <see cref="A"/> is its opacity when blended onto a <see cref="Canvas"/> (the canvas itself is opaque RGB).</summary>
internal readonly record struct Rgba(byte R, byte G, byte B, byte A = 255)
{
    public static Rgba White => new(255, 255, 255);

    public static Rgba Black => new(0, 0, 0);

    /// <summary>Text and axes: near black, so pure black stays free for tests that look for it.</summary>
    public static Rgba Ink => new(34, 34, 34);

    public Rgba WithAlpha(byte alpha) => this with { A = alpha };

    /// <summary>Linear mix in sRGB bytes; <paramref name="t"/> 0 gives <paramref name="a"/>, 1 gives <paramref name="b"/>.</summary>
    public static Rgba Lerp(Rgba a, Rgba b, double t)
    {
        t = Math.Clamp(t, 0.0, 1.0);
        return new Rgba(Mix(a.R, b.R, t), Mix(a.G, b.G, t), Mix(a.B, b.B, t), Mix(a.A, b.A, t));
    }

    private static byte Mix(byte a, byte b, double t) => (byte)Math.Round(a + ((b - a) * t), MidpointRounding.AwayFromZero);
}
