using System.Diagnostics;

namespace EmKernels.Engine;

/// <summary>
/// Where one pass over the data spent its time, per worker, in milliseconds: loading chunks (reading and
/// centring streamed data; nothing in memory) and the model's E-step over the tiles (with the worst-point
/// search); <see cref="Wall"/> is the whole parallel part. <see cref="Training"/>: a pass of the fitted model that
/// accumulated statistics (not a summary or a final evaluation). Recorded only while <see cref="Listener"/> is set (by the
/// benchmark program's <c>iterate --phases</c>); unset, recording costs one branch per tile.
/// </summary>
internal sealed record PassTimes(bool Training, double Wall, double[] Load, double[] Expectation)
{
    /// <summary>Receives every pass's times while set. Set it before a fit and clear it after; not for concurrent fits.</summary>
    public static Action<PassTimes>? Listener { get; set; }

    /// <summary>Stopwatch ticks to milliseconds.</summary>
    public static double Milliseconds(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}
