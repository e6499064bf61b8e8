using ScottPlot;
using ScottPlot.Panels;

namespace Asd.Cli.Plotting;

/// <summary>One line of text under everything else in the figure, centred on the whole picture (ScottPlot's own
/// title panel only sits on top).</summary>
internal sealed class CaptionPanel : PanelBase
{
    public CaptionPanel() => Edge = Edge.Bottom;

    public LabelStyle Label { get; } = new() { Alignment = Alignment.MiddleCenter };

    /// <summary>Blank pixels above and below the text.</summary>
    public float VerticalPadding { get; set; } = 8;

    public override float Measure(Paint paint) => IsVisible ? Label.Measure(Label.Text, paint).Height + (2 * VerticalPadding) : 0;

    public override void Render(RenderPack rp, float size, float offset)
    {
        if (!IsVisible)
        {
            return;
        }

        PixelRect panel = GetPanelRect(rp.DataRect, size, offset, rp.Paint);
        Label.Render(rp.Canvas, new Pixel(rp.FigureRect.HorizontalCenter, panel.VerticalCenter), rp.Paint, true);
    }
}
