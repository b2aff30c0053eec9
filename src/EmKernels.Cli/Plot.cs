using System.Globalization;
using System.Xml.Linq;

namespace EmKernels.Cli;

/// <summary>
/// An SVG of a 2-D view of a fit: the points (up to <see cref="MaxPoints"/>, evenly thinned beyond) coloured
/// by label, each Gaussian component's one- and two-sigma ellipses of its marginal in the two columns
/// (discrete components: their mean), axes with ticks, and a legend.
/// </summary>
/// <remarks>
/// Elements carry classes for tools and tests: <c>point</c> (with <c>data-component</c>), <c>sigma-1</c> and
/// <c>sigma-2</c> ellipses and <c>mean</c> markers (with <c>data-component</c>), <c>tick</c>, <c>axis-title</c>, <c>legend</c>.
/// The plot area maps data to pixels linearly; its corners are recorded in <c>data-x-range</c> and <c>data-y-range</c>.
/// </remarks>
internal static class Plot
{
    public const int MaxPoints = 20_000;
    private const double Width = 860, Height = 600, Left = 80, Right = 640, Top = 50, Bottom = 520;

    private static readonly string[] Palette =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    /// <summary>The SVG document for columns <paramref name="x"/> and <paramref name="y"/> of the fitted data.</summary>
    public static XDocument Render(DataTable data, int x, int y, int[] labels, ModelFile model)
    {
        int k = model.Components;
        var means = new (double X, double Y)[k];
        var covariances = new (double Xx, double Xy, double Yy)[k];
        for (int c = 0; c < k; c++)
        {
            means[c] = Mean(model, c, x, y);
            if (Names.IsContinuous(model.Model))
            {
                double[] full = Summary.Covariance(model, c);
                int d = model.Features;
                covariances[c] = (full[x * d + x], full[x * d + y], full[y * d + y]);
            }
        }

        // The view holds every point and every two-sigma ellipse, with 5 % to spare.
        double xMin = double.PositiveInfinity, xMax = double.NegativeInfinity, yMin = double.PositiveInfinity, yMax = double.NegativeInfinity;
        for (int i = 0; i < data.Rows; i++)
        {
            (xMin, xMax) = (Math.Min(xMin, data[i, x]), Math.Max(xMax, data[i, x]));
            (yMin, yMax) = (Math.Min(yMin, data[i, y]), Math.Max(yMax, data[i, y]));
        }

        if (Names.IsContinuous(model.Model))
        {
            for (int c = 0; c < k; c++)
            {
                double sx = 2 * Math.Sqrt(covariances[c].Xx), sy = 2 * Math.Sqrt(covariances[c].Yy);
                (xMin, xMax) = (Math.Min(xMin, means[c].X - sx), Math.Max(xMax, means[c].X + sx));
                (yMin, yMax) = (Math.Min(yMin, means[c].Y - sy), Math.Max(yMax, means[c].Y + sy));
            }
        }

        (xMin, xMax) = Pad(xMin, xMax);
        (yMin, yMax) = Pad(yMin, yMax);
        double scaleX = (Right - Left) / (xMax - xMin), scaleY = (Bottom - Top) / (yMax - yMin);
        double Px(double v) => Left + (v - xMin) * scaleX;
        double Py(double v) => Bottom - (v - yMin) * scaleY;

        var root = new XElement(
            Svg + "svg",
            new XAttribute("width", N(Width)),
            new XAttribute("height", N(Height)),
            new XAttribute("viewBox", $"0 0 {N(Width)} {N(Height)}"),
            new XAttribute("font-family", "sans-serif"),
            new XAttribute("font-size", "12"),
            new XAttribute("data-x-range", $"{R(xMin)} {R(xMax)}"),
            new XAttribute("data-y-range", $"{R(yMin)} {R(yMax)}"),
            new XAttribute("data-plot-area", $"{N(Left)} {N(Top)} {N(Right)} {N(Bottom)}"));
        root.Add(new XElement(Svg + "rect", new XAttribute("width", "100%"), new XAttribute("height", "100%"), new XAttribute("fill", "white")));
        int step = (data.Rows + MaxPoints - 1) / MaxPoints;
        int shown = (data.Rows + step - 1) / step;
        root.Add(Text(Width / 2 - 60, 28, $"{Names.Describe(model.Model, model.Covariance, k, model.Factors, model.Parameterization)} on {data.Source}" + (step > 1 ? $" ({shown} of {data.Rows} points shown)" : ""), "title", "middle", 15));

        // Axes, ticks and grid.
        var axes = new XElement(Svg + "g", new XAttribute("class", "axes"), new XAttribute("stroke", "#333"));
        axes.Add(Line(Left, Bottom, Right, Bottom), Line(Left, Top, Left, Bottom));
        foreach (double t in Ticks(xMin, xMax))
        {
            axes.Add(Line(Px(t), Bottom, Px(t), Bottom + 5));
            root.Add(Text(Px(t), Bottom + 20, t.ToString("G6", CultureInfo.InvariantCulture), "tick", "middle"));
        }

        foreach (double t in Ticks(yMin, yMax))
        {
            axes.Add(Line(Left - 5, Py(t), Left, Py(t)));
            root.Add(Text(Left - 8, Py(t) + 4, t.ToString("G6", CultureInfo.InvariantCulture), "tick", "end"));
        }

        root.Add(axes);
        root.Add(Text((Left + Right) / 2, Bottom + 45, data.Columns[x], "axis-title", "middle", 13));
        var yTitle = Text(20, (Top + Bottom) / 2, data.Columns[y], "axis-title", "middle", 13);
        yTitle.Add(new XAttribute("transform", $"rotate(-90 20 {N((Top + Bottom) / 2)})"));
        root.Add(yTitle);

        var points = new XElement(Svg + "g", new XAttribute("class", "points"), new XAttribute("fill-opacity", "0.6"));
        for (int i = 0; i < data.Rows; i += step)
        {
            points.Add(new XElement(
                Svg + "circle",
                new XAttribute("class", "point"),
                new XAttribute("data-component", labels[i]),
                new XAttribute("cx", N(Px(data[i, x]))),
                new XAttribute("cy", N(Py(data[i, y]))),
                new XAttribute("r", "2.5"),
                new XAttribute("fill", Colour(labels[i]))));
        }

        root.Add(points);

        var components = new XElement(Svg + "g", new XAttribute("class", "components"), new XAttribute("fill", "none"));
        for (int c = 0; c < k; c++)
        {
            double cx = Px(means[c].X), cy = Py(means[c].Y);
            if (Names.IsContinuous(model.Model))
            {
                // The covariance in pixel space (the y axis flips): S Σ S with S = diag(scaleX, −scaleY).
                double a = scaleX * scaleX * covariances[c].Xx, b = -scaleX * scaleY * covariances[c].Xy, d = scaleY * scaleY * covariances[c].Yy;
                double half = (a + d) / 2, spread = Math.Sqrt(((a - d) / 2) * ((a - d) / 2) + b * b);
                double major = Math.Sqrt(half + spread), minor = Math.Sqrt(Math.Max(half - spread, 0));
                double angle = 0.5 * Math.Atan2(2 * b, a - d) * 180 / Math.PI;
                foreach (int sigma in (int[])[1, 2])
                {
                    components.Add(new XElement(
                        Svg + "ellipse",
                        new XAttribute("class", $"sigma-{sigma}"),
                        new XAttribute("data-component", c),
                        new XAttribute("cx", N(cx)),
                        new XAttribute("cy", N(cy)),
                        new XAttribute("rx", N(sigma * major)),
                        new XAttribute("ry", N(sigma * minor)),
                        new XAttribute("transform", $"rotate({N(angle)} {N(cx)} {N(cy)})"),
                        new XAttribute("stroke", Colour(c)),
                        new XAttribute("stroke-width", sigma == 1 ? "2" : "1.5"),
                        sigma == 2 ? new XAttribute("stroke-dasharray", "6 4") : null));
                }
            }

            components.Add(new XElement(
                Svg + "path",
                new XAttribute("class", "mean"),
                new XAttribute("data-component", c),
                new XAttribute("d", $"M {N(cx - 6)} {N(cy)} L {N(cx + 6)} {N(cy)} M {N(cx)} {N(cy - 6)} L {N(cx)} {N(cy + 6)}"),
                new XAttribute("stroke", "black"),
                new XAttribute("stroke-width", "2")));
        }

        root.Add(components);
        root.Add(Legend(model));
        return new XDocument(root);
    }

    /// <summary>The two columns --plot-columns names (default the first two), checked before any fitting.</summary>
    public static (int X, int Y) Columns(DataTable data, string? columns)
    {
        if (string.IsNullOrWhiteSpace(columns))
        {
            return data.Columns.Length >= 2 ? (0, 1) : throw new UsageException("--plot draws two columns, but the fitted data have one.");
        }

        string[] names = columns.Split(',');
        return names.Length == 2
            ? (data.ColumnIndex(names[0].Trim()), data.ColumnIndex(names[1].Trim()))
            : throw new UsageException($"--plot-columns takes two columns (\"a,b\"), not {names.Length}.");
    }

    /// <summary>Writes the plot, or nothing, to <paramref name="path"/>.</summary>
    public static void Write(string path, DataTable data, int x, int y, int[] labels, ModelFile model)
    {
        XDocument document = Render(data, x, y, labels, model);
        OutputFile.Write(path, stream => document.Save(stream));
    }

    private static (double X, double Y) Mean(ModelFile model, int c, int x, int y)
    {
        int d = model.Features;
        if (Names.IsContinuous(model.Model))
        {
            return (model.Means[c * d + x], model.Means[c * d + y]);
        }

        // Discrete components: the expected value of each feature.
        double Expected(int j) => model.Model switch
        {
            "binomial" => model.Trials * model.Parameters[c * d + j],
            "categorical" => Enumerable.Range(0, model.Categories).Sum(v => v * model.Parameters[(c * d + j) * model.Categories + v]),
            _ => model.Parameters[c * d + j],
        };
        return (Expected(x), Expected(y));
    }

    private static XElement Legend(ModelFile model)
    {
        var legend = new XElement(Svg + "g", new XAttribute("class", "legend"));
        double top = Top + 10;
        for (int c = 0; c < model.Components; c++)
        {
            double rowY = top + c * 20;
            legend.Add(new XElement(
                Svg + "rect",
                new XAttribute("x", N(Right + 30)),
                new XAttribute("y", N(rowY - 9)),
                new XAttribute("width", "12"),
                new XAttribute("height", "12"),
                new XAttribute("fill", Colour(c))));
            legend.Add(Text(Right + 48, rowY + 1, $"component {c} (weight {Format.Fixed(model.Weights[c], 3)})", "legend-entry", "start"));
        }

        if (Names.IsContinuous(model.Model))
        {
            double rowY = top + model.Components * 20 + 10;
            legend.Add(Line(Right + 30, rowY, Right + 44, rowY, "#333", null), Text(Right + 48, rowY + 4, "1σ", "legend-entry", "start"));
            legend.Add(Line(Right + 30, rowY + 20, Right + 44, rowY + 20, "#333", "6 4"), Text(Right + 48, rowY + 24, "2σ", "legend-entry", "start"));
        }

        return legend;
    }

    private static string Colour(int component) => Palette[component % Palette.Length];

    private static (double, double) Pad(double min, double max)
    {
        double span = max - min;
        double pad = span > 0 ? 0.05 * span : Math.Max(Math.Abs(min) * 0.05, 0.5);
        return (min - pad, max + pad);
    }

    /// <summary>Round tick values (1, 2 or 5 × 10^n apart), about six per axis.</summary>
    private static IEnumerable<double> Ticks(double min, double max)
    {
        double raw = (max - min) / 6;
        double power = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = (raw / power) switch { < 1.5 => 1, < 3.5 => 2, < 7.5 => 5, _ => 10 } * power;
        for (double t = Math.Ceiling(min / step) * step; t <= max; t += step)
        {
            yield return Math.Round(t / step) * step;
        }
    }

    private static XElement Line(double x1, double y1, double x2, double y2, string? stroke = null, string? dash = null) => new(
        Svg + "line",
        new XAttribute("x1", N(x1)),
        new XAttribute("y1", N(y1)),
        new XAttribute("x2", N(x2)),
        new XAttribute("y2", N(y2)),
        stroke is null ? null : new XAttribute("stroke", stroke),
        stroke is null ? null : new XAttribute("stroke-width", "2"),
        dash is null ? null : new XAttribute("stroke-dasharray", dash));

    private static XElement Text(double x, double y, string text, string cssClass, string anchor, int size = 12) => new(
        Svg + "text",
        new XAttribute("class", cssClass),
        new XAttribute("x", N(x)),
        new XAttribute("y", N(y)),
        new XAttribute("text-anchor", anchor),
        new XAttribute("font-size", size),
        text);

    private static string R(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string N(double value) => Math.Round(value, 4).ToString("G10", CultureInfo.InvariantCulture);
}
