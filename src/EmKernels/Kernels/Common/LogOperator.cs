using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EmKernels.Kernels.Common;

/// <summary>
/// The vector natural log used by every kernel. The BCL's <c>Vector512.Log</c> is a call (and measured
/// ~48 ns per 8 doubles, a third of the whole Responsibilities kernel); this one is written once over
/// <see cref="ISimd{TV, T}"/> and inlined.
/// </summary>
/// <remarks>
/// x = m · 2ᵉ with m ∈ [√½, √2); log m = 2 atanh s with s = (m − 1)/(m + 1), |s| ≤ 0.1716, by its
/// Taylor series 2s(1 + s²/3 + s⁴/5 + …) to s²¹ (double) or s¹¹ (float), whose truncation error is
/// far below half an ulp; then e·ln2_hi + (e·ln2_lo + log m) with ln 2 split as in <see cref="ExpOperator"/>.
/// Special values: log(±0) = −∞, log(+∞) = +∞, negative or NaN gives NaN; subnormals are exact inputs.
/// Measured error: see the tests.
/// </remarks>
internal static class LogOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Log<T, TV, TOps>(TV x)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        TV m = TOps.SplitExponent(x, out TV e);
        TV high = TOps.GreaterThan(m, Constant.Of<T, TV, TOps>(1.4142135623730951));
        m = TOps.Select(high, TOps.Multiply(m, Constant.Of<T, TV, TOps>(0.5)), m);
        e = TOps.Select(high, TOps.Add(e, Constant.Of<T, TV, TOps>(1)), e);
        TV f = TOps.Subtract(m, Constant.Of<T, TV, TOps>(1));
        TV s = TOps.Divide(f, TOps.Add(f, Constant.Of<T, TV, TOps>(2)));
        TV z = TOps.Multiply(s, s);
        TV p;
        if (typeof(T) == typeof(double))
        {
            // Σ z^j / (2j + 3), j = 0 … 9, by Estrin's scheme in z and z².
            TV z2 = TOps.Multiply(z, z);
            TV z4 = TOps.Multiply(z2, z2);
            TV a = TOps.MultiplyAdd(z2, TOps.MultiplyAdd(z, Constant.Of<T, TV, TOps>(1.0 / 9), Constant.Of<T, TV, TOps>(1.0 / 7)), TOps.MultiplyAdd(z, Constant.Of<T, TV, TOps>(1.0 / 5), Constant.Of<T, TV, TOps>(1.0 / 3)));
            TV b = TOps.MultiplyAdd(z2, TOps.MultiplyAdd(z, Constant.Of<T, TV, TOps>(1.0 / 17), Constant.Of<T, TV, TOps>(1.0 / 15)), TOps.MultiplyAdd(z, Constant.Of<T, TV, TOps>(1.0 / 13), Constant.Of<T, TV, TOps>(1.0 / 11)));
            TV c = TOps.MultiplyAdd(z, Constant.Of<T, TV, TOps>(1.0 / 21), Constant.Of<T, TV, TOps>(1.0 / 19));
            p = TOps.MultiplyAdd(z4, TOps.MultiplyAdd(z4, c, b), a);
        }
        else
        {
            // Σ z^j / (2j + 3), j = 0 … 4.
            TV z2 = TOps.Multiply(z, z);
            TV a = TOps.MultiplyAdd(z, Constant.Of<T, TV, TOps>(1.0 / 5), Constant.Of<T, TV, TOps>(1.0 / 3));
            TV b = TOps.MultiplyAdd(z, Constant.Of<T, TV, TOps>(1.0 / 9), Constant.Of<T, TV, TOps>(1.0 / 7));
            p = TOps.MultiplyAdd(z2, TOps.MultiplyAdd(z2, Constant.Of<T, TV, TOps>(1.0 / 11), b), a);
        }

        TV twice = TOps.Add(s, s);
        TV logMantissa = TOps.MultiplyAdd(TOps.Multiply(twice, z), p, twice);
        bool single = typeof(T) == typeof(float);
        TV y = TOps.MultiplyAdd(e, Constant.Of<T, TV, TOps>(single ? 0.693145751953125 : 6.93147180369123816490e-01), TOps.MultiplyAdd(e, Constant.Of<T, TV, TOps>(single ? 1.42860677e-06 : 1.90821492927058770002e-10), logMantissa));

        TV special = TOps.Select(TOps.IsZero(x), Constant.Of<T, TV, TOps>(double.NegativeInfinity), Constant.Of<T, TV, TOps>(double.NaN));
        y = TOps.Select(TOps.Equal(x, Constant.Of<T, TV, TOps>(double.PositiveInfinity)), x, y);
        return TOps.Select(TOps.GreaterThan(x, TOps.Zero), y, special);
    }

    /// <summary>log of every element into a separate destination, through <see cref="Dispatch"/> like every kernel: for tests and benchmarks.</summary>
    public static void Log<T>(ReadOnlySpan<T> x, Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        ElementWise.Apply<T, LogFunction>(x, destination);

    private readonly struct LogFunction : IElementFunction
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<T, TV, TOps>(TV x)
            where T : unmanaged, IBinaryFloatingPointIeee754<T>
            where TV : struct
            where TOps : struct, ISimd<TV, T> =>
            TOps.Log(x);
    }
}
