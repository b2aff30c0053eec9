using System.Diagnostics;

namespace EmKernels.Mixtures;

/// <summary>
/// Where one pass over the data spent its time, per worker, in milliseconds: the family's
/// log-probabilities, the responsibilities (with the worst-point search) and the sufficient statistics;
/// <see cref="Wall"/> is the whole parallel part. Recorded only while <see cref="Listener"/> is set (by the
/// benchmark program's <c>iterate --phases</c>); unset, recording costs one branch per tile.
/// </summary>
internal sealed record PassTimes(double Wall, double[] LogProbabilities, double[] Responsibilities, double[] Statistics)
{
    /// <summary>Receives every pass's times while set. Set it before a fit and clear it after; not for concurrent fits.</summary>
    public static Action<PassTimes>? Listener { get; set; }

    /// <summary>Stopwatch ticks to milliseconds.</summary>
    public static double Milliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}
