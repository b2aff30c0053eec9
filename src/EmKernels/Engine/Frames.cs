using System.Numerics;

namespace EmKernels.Engine;

/// <summary>
/// A fit's frame: the data seen as (x − c)·2^−s and the sample weights as w·2^−k, so that every sum a model
/// forms stays within the floating-point range whatever the magnitude of the data (powers of two scale
/// exactly). <see cref="Identity"/> leaves the data as they are.
/// </summary>
/// <param name="Centre">c in the user's coordinates, or null for none.</param>
/// <param name="ScaleExponent">s.</param>
/// <param name="WeightScaleExponent">k.</param>
internal readonly record struct Frame(double[]? Centre, int ScaleExponent, int WeightScaleExponent)
{
    /// <summary>The data as they are.</summary>
    public static Frame Identity => default;

    /// <summary>The frame a summary describes (centred only when <paramref name="translate"/>).</summary>
    public static Frame Of(DataSummary summary, bool translate) => new(translate ? summary.Centre : null, summary.ScaleExponent, summary.WeightScaleExponent);

    /// <summary>What the frame adds to a point's log-density to give it in the user's units: −D·s·ln 2 (the Jacobian of x → x·2^−s).</summary>
    public double LogJacobian(int features) => -features * (double)ScaleExponent * Math.Log(2);
}

/// <summary>Exact scaling by powers of two in any precision, for exponents beyond a single factor's range.</summary>
internal static class Frames
{
    /// <summary>
    /// The frame's power of two for second-moment models (Gaussian, factor analyzers) whose spread, as log₂ of a standard
    /// deviation, is <paramref name="log2Spread"/>: 0 while it is within 2^±128 in double or 2^±32 in float (squares and
    /// products stay in range), else the spread itself rounded, which brings the data to about unit scale.
    /// </summary>
    public static int SecondMomentScaleExponent<T>(double log2Spread)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int limit = typeof(T) == typeof(float) ? 32 : 128;
        return double.IsFinite(log2Spread) && Math.Abs(log2Spread) > limit ? (int)Math.Round(log2Spread) : 0;
    }

    /// <summary>x·2^exponent (exact unless the result overflows or is subnormal).</summary>
    public static double ScaleByPowerOfTwo(double x, long exponent) => Math.ScaleB(x, (int)Math.Clamp(exponent, -4000, 4000));

    /// <summary>Two factors of <typeparamref name="T"/> whose product is 2^exponent, each within T's normal range, so that x·f₁·f₂ is x·2^exponent exactly.</summary>
    public static (T First, T Second) Factors<T>(int exponent)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int half = exponent / 2;
        return (T.ScaleB(T.One, half), T.ScaleB(T.One, exponent - half));
    }
}
