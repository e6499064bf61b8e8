namespace Asd.Cli.Plotting;

/// <summary>Point markers for <see cref="Canvas.DrawMarker"/>; the size is the marker's full width in pixels.</summary>
internal enum Marker
{
    Dot,
    Ring,
    Square,
    Cross,
    Plus,
    Star,
}

/// <summary>Horizontal anchoring of a text line at its x coordinate.</summary>
internal enum TextAlign
{
    Left,
    Center,
    Right,
}
