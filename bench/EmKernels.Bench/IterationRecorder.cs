using EmKernels.Mixtures;

namespace EmKernels.Bench;

/// <summary>Turns a fit's cumulative elapsed time per iteration (its progress reports) into per-iteration durations.</summary>
/// <param name="times">Receives one duration per iteration, in seconds; the first includes the fit's setup and initialization.</param>
internal sealed class IterationRecorder(List<double> times) : IProgress<FitProgress>
{
    private TimeSpan _previous;

    /// <summary>Starts over for another fit (the list is the caller's to clear).</summary>
    public void Reset() => _previous = TimeSpan.Zero;

    public void Report(FitProgress value)
    {
        times.Add((value.Elapsed - _previous).TotalSeconds);
        _previous = value.Elapsed;
    }

    /// <summary>The median over iterations 2..M (the first carries the setup), or the first when M = 1.</summary>
    public static double SteadyMedian(List<double> times)
    {
        double[] steady = times.Skip(1).Order().ToArray();
        return steady.Length == 0 ? times[0] : steady[steady.Length / 2];
    }
}
