using System.Numerics;
using Xunit.Sdk;

namespace EmKernels.Tests.Infrastructure;

/// <summary>
/// The one helper for every floating-point comparison in the suite. A value passes when
/// |actual − expected| ≤ ε_T · factor · scale + floor_T, where ε_T is the unit roundoff of the kernel's
/// element type, scale is the magnitude the computation worked at (not just |expected|: a sum with
/// cancellation is only as exact as the sum of its absolute terms), factor budgets the number of
/// rounding steps (long reductions, no FMA on the Vector128/scalar legs), and floor_T absorbs
/// underflow to zero or subnormals. NaN must match NaN and infinities must match exactly.
/// </summary>
internal static class Tolerance
{
    public static double Epsilon<T>()
        where T : IFloatingPointIeee754<T> =>
        typeof(T) == typeof(float) ? Math.ScaleB(1, -23) : Math.ScaleB(1, -52);

    /// <summary>Absolute floor: ten times the smallest normal number of <typeparamref name="T"/>.</summary>
    public static double Floor<T>()
        where T : IFloatingPointIeee754<T> =>
        typeof(T) == typeof(float) ? 10 * 1.17549435e-38 : 10 * 2.2250738585072014e-308;

    public static bool IsClose<T>(double expected, double actual, double scale, double factor)
        where T : IFloatingPointIeee754<T>
    {
        if (double.IsNaN(expected) || double.IsNaN(actual))
        {
            return double.IsNaN(expected) && double.IsNaN(actual);
        }

        if (double.IsInfinity(expected) || double.IsInfinity(actual))
        {
            return expected == actual;
        }

        double allowed = Epsilon<T>() * factor * Math.Max(Math.Abs(scale), Math.Abs(expected)) + Floor<T>();
        return Math.Abs(actual - expected) <= allowed;
    }

    public static void AssertClose<T>(double expected, T actual, double scale, double factor, string what)
        where T : IFloatingPointIeee754<T> =>
        AssertClose(expected, actual, scale, factor, () => what);

    /// <summary>As above, with the description built only on failure (for checks inside large loops).</summary>
    public static void AssertClose<T>(double expected, T actual, double scale, double factor, Func<string> what)
        where T : IFloatingPointIeee754<T>
    {
        double value = double.CreateTruncating(actual);
        if (!IsClose<T>(expected, value, scale, factor))
        {
            double allowed = Epsilon<T>() * factor * Math.Max(Math.Abs(scale), Math.Abs(expected)) + Floor<T>();
            throw new XunitException(
                $"{what()}: expected {expected:R}, got {value:R} (|diff| {Math.Abs(value - expected):E3}, allowed {allowed:E3}, scale {scale:E3}, factor {factor}).");
        }
    }
}
