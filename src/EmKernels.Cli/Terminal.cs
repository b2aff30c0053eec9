using System.Globalization;
using EmKernels.Mixtures;
using Spectre.Console;

namespace EmKernels.Cli;

/// <summary>
/// Where the tool writes: tables and live progress through Spectre.Console when stdout is a terminal,
/// aligned plain text otherwise (and progress lines on stderr only with --verbose).
/// </summary>
internal sealed class Terminal
{
    private readonly IAnsiConsole? _ansi;

    public Terminal(TextWriter output, TextWriter error, bool interactive)
    {
        Out = output;
        Error = error;
        if (interactive)
        {
            _ansi = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(output),
                Interactive = InteractionSupport.Yes,
                Ansi = AnsiSupport.Detect,
                ColorSystem = ColorSystemSupport.Detect,
            });
        }
    }

    public TextWriter Out { get; }

    public TextWriter Error { get; }

    /// <summary>Notes about what the tool decided by itself (R's row names left out), written to stderr after a command succeeds.</summary>
    public StringWriter Notes { get; } = new();

    public bool Interactive => _ansi is not null;

    /// <summary>A heading line (bold on a terminal).</summary>
    public void Heading(string text)
    {
        if (_ansi is null)
        {
            Out.WriteLine(text);
        }
        else
        {
            _ansi.MarkupLine($"[bold]{Markup.Escape(text)}[/]");
        }
    }

    public void Line(string text = "")
    {
        if (_ansi is null)
        {
            Out.WriteLine(text);
        }
        else
        {
            _ansi.WriteLine(text);
        }
    }

    /// <summary>Name–value pairs: a borderless grid on a terminal, aligned lines otherwise.</summary>
    public void Facts(IReadOnlyList<(string Name, string Value)> facts)
    {
        if (_ansi is null)
        {
            int width = facts.Max(f => f.Name.Length);
            foreach ((string name, string value) in facts)
            {
                Out.WriteLine($"  {name.PadRight(width)}  {value}");
            }

            return;
        }

        var grid = new Grid().AddColumn(new GridColumn().PadLeft(2)).AddColumn();
        foreach ((string name, string value) in facts)
        {
            grid.AddRow(new Markup($"[grey]{Markup.Escape(name)}[/]"), new Text(value));
        }

        _ansi.Write(grid);
    }

    /// <summary>A table whose columns after the first <paramref name="textColumns"/> are numbers (right-aligned).</summary>
    public void Table(IReadOnlyList<string> headers, IReadOnlyList<string[]> rows, int textColumns = 0, int highlightRow = -1)
    {
        if (_ansi is null)
        {
            int[] widths = headers.Select((h, j) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[j].Length))).ToArray();
            Out.WriteLine(string.Join("  ", headers.Select((h, j) => j < textColumns ? h.PadRight(widths[j]) : h.PadLeft(widths[j]))).TrimEnd());
            foreach (string[] row in rows)
            {
                Out.WriteLine(string.Join("  ", row.Select((c, j) => j < textColumns ? c.PadRight(widths[j]) : c.PadLeft(widths[j]))).TrimEnd());
            }

            return;
        }

        var table = new Table().Border(TableBorder.Rounded);
        for (int j = 0; j < headers.Count; j++)
        {
            var column = new TableColumn(Markup.Escape(headers[j]));
            table.AddColumn(j < textColumns ? column.LeftAligned() : column.RightAligned());
        }

        for (int i = 0; i < rows.Count; i++)
        {
            string style = i == highlightRow ? "bold green" : "default";
            table.AddRow(rows[i].Select(c => new Markup($"[{style}]{Markup.Escape(c)}[/]")).ToArray());
        }

        _ansi.Write(table);
    }

    /// <summary>
    /// Runs work that reports fit progress: a live status line on a terminal, progress lines on stderr
    /// with <paramref name="verbose"/> otherwise, nothing else.
    /// </summary>
    public TResult WithProgress<TResult>(string label, int restarts, bool verbose, Func<IProgress<FitProgress>?, TResult> work) =>
        WithProgress(label, p => Describe(p, restarts), verbose, work);

    /// <summary>As above, for stepwise (online) EM: one report per minibatch, shown at most every 0.2 s on a terminal and every 100 steps with --verbose.</summary>
    public TResult WithOnlineProgress<TResult>(string label, int epochs, bool verbose, Func<IProgress<FitProgress>?, TResult> work) =>
        WithProgress(label, p => DescribeOnline(p, epochs), verbose, work, online: true);

    private TResult WithProgress<TResult>(string label, Func<FitProgress, string> describe, bool verbose, Func<IProgress<FitProgress>?, TResult> work, bool online = false)
    {
        if (_ansi is not null)
        {
            TimeSpan shown = TimeSpan.MinValue;
            return _ansi.Status().Start(Markup.Escape(label), context =>
                work(new Reporter(p =>
                {
                    if (!online || p.Elapsed - shown > TimeSpan.FromSeconds(0.2))
                    {
                        shown = p.Elapsed;
                        context.Status(Markup.Escape($"{label}: {describe(p)}"));
                    }
                })));
        }

        return work(verbose ? new Reporter(p =>
        {
            if (!online || p.Iteration % 100 == 0)
            {
                Error.WriteLine($"{label}: {describe(p)}");
            }
        }) : null);
    }

    private static string Describe(FitProgress p, int restarts) => string.Create(
        CultureInfo.InvariantCulture,
        $"restart {p.Restart + 1} of {restarts}, iteration {p.Iteration}, mean log-likelihood {p.MeanLogLikelihood:F6}, change {(double.IsFinite(p.Change) ? p.Change.ToString("0.##e+0", CultureInfo.InvariantCulture) : "-")}, {p.Elapsed.TotalSeconds:F2} s{Rate(p)}");

    private static string DescribeOnline(FitProgress p, int epochs) => string.Create(
        CultureInfo.InvariantCulture,
        $"epoch {p.Restart + 1} of {epochs}, step {p.Iteration}, minibatch mean log-likelihood {p.MeanLogLikelihood:F6}, {p.Elapsed.TotalSeconds:F2} s{Rate(p)}");

    /// <summary>", 12.3 M points/s": points the E-steps processed per second of the fit so far.</summary>
    private static string Rate(FitProgress p)
    {
        double seconds = p.Elapsed.TotalSeconds;
        if (p.PointsVisited <= 0 || seconds <= 0)
        {
            return "";
        }

        double rate = p.PointsVisited / seconds;
        return rate >= 1e6
            ? string.Create(CultureInfo.InvariantCulture, $", {rate / 1e6:F1} M points/s")
            : string.Create(CultureInfo.InvariantCulture, $", {rate / 1e3:F1} k points/s");
    }

    /// <summary>Reports synchronously on the fitting thread (unlike Progress&lt;T&gt;, which posts to the thread pool).</summary>
    private sealed class Reporter(Action<FitProgress> report) : IProgress<FitProgress>
    {
        public void Report(FitProgress value) => report(value);
    }
}

/// <summary>Invariant number formatting for people.</summary>
internal static class Format
{
    /// <summary>Five significant digits, trailing zeros kept so columns line up; exponent notation for very large or small values.</summary>
    public static string Number(double value)
    {
        double magnitude = Math.Abs(value);
        if (magnitude == 0)
        {
            return "0";
        }

        if (magnitude >= 1e6 || magnitude < 1e-4 || !double.IsFinite(value))
        {
            return value.ToString("0.####e+0", CultureInfo.InvariantCulture);
        }

        int decimals = Math.Max(0, 4 - (int)Math.Floor(Math.Log10(magnitude)));
        return Fixed(value, decimals);
    }

    public static string Fixed(double value, int digits) => value.ToString("F" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    public static string Time(TimeSpan time) => time.TotalSeconds >= 1
        ? $"{Fixed(time.TotalSeconds, 2)} s"
        : $"{Fixed(time.TotalMilliseconds, 1)} ms";
}
