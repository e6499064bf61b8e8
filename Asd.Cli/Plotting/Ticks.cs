using System.Globalization;

namespace Asd.Cli.Plotting;

/// <summary>Round axis tick positions (1, 2 or 5 times a power of ten) and their labels.</summary>
internal static class Ticks
{
    /// <summary>The step between about <paramref name="target"/> ticks spanning [min, max].</summary>
    public static double Step(double min, double max, int target = 5)
    {
        double span = max - min;
        if (!(span > 0) || !double.IsFinite(span))
        {
            return 1.0;
        }

        double raw = span / Math.Max(target, 1);
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double norm = raw / magnitude;
        double nice = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
        return nice * magnitude;
    }

    /// <summary>Tick values inside [min, max] (inclusive up to rounding), about <paramref name="target"/> of them.</summary>
    public static double[] Values(double min, double max, int target = 5)
    {
        double step = Step(min, max, target);
        double slack = step * 1e-9;
        double first = Math.Ceiling((min - slack) / step);
        var ticks = new List<double>();
        for (int i = 0; i < 1000; i++)
        {
            double v = (first + i) * step;
            if (v > max + slack)
            {
                break;
            }

            ticks.Add(Math.Abs(v) < slack ? 0.0 : v);
        }

        return [.. ticks];
    }

    /// <summary>A label for <paramref name="value"/> with just enough decimals to tell ticks <paramref name="step"/> apart.</summary>
    public static string Format(double value, double step)
    {
        double magnitude = Math.Max(Math.Abs(value), step);
        if (magnitude >= 1e6 || step < 1e-4)
        {
            return value.ToString("0.##E+0", CultureInfo.InvariantCulture);
        }

        int decimals = Math.Max(0, -(int)Math.Floor(Math.Log10(step) + 1e-9));
        string text = value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        return text.StartsWith('-') && text.Trim('-', '0', '.').Length == 0 ? text[1..] : text;
    }

    /// <summary>A short label for a data value (about three significant digits).</summary>
    public static string FormatValue(double value)
    {
        double a = Math.Abs(value);
        string format = a >= 1e6 || (a > 0 && a < 1e-3) ? "0.##E+0" : a >= 100 ? "F0" : a >= 10 ? "F1" : "F2";
        return value.ToString(format, CultureInfo.InvariantCulture);
    }
}
