using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EmKernels.Kernels.Common;

/// <summary>
/// The vector exp used by every kernel. The BCL's <c>Vector512.Exp</c> is not inlined (it compiles to a
/// call of <c>VectorMath.ExpDouble</c>), so in a loop every live vector register is spilled around it;
/// this one is written once over <see cref="ISimd{TV, T}"/> and inlined into each kernel.
/// </summary>
/// <remarks>
/// exp(x) = 2ⁿ · e^r with n = round(x / ln 2) and r = x − n·ln 2 (|r| ≤ ½ ln 2), ln 2 split in a
/// high part with trailing zero bits (so n·ln2_hi is exact with or without FMA) and a low part; e^r
/// by its Taylor polynomial of degree 13 (double) or 7 (float), whose truncation error is below half
/// an ulp, evaluated by Estrin's scheme (a dependency chain of 5 steps instead of Horner's 13, for
/// 2 more multiplications: the exp-bound Responsibilities kernel ran 6 % faster); 2ⁿ applied with
/// one rounding, so subnormal results come out right. Overflow gives +∞,
/// underflow 0, −∞ gives 0, NaN gives NaN, and exp(0) = 1 exactly. Measured error: see the tests.
/// </remarks>
internal static class ExpOperator
{
    /// <summary>1.5 · 2⁵²: adding it rounds a double to an integer held in its low mantissa bits.</summary>
    public const double DoubleShifter = 6755399441055744.0;

    public const long DoubleShifterBits = 0x4338000000000000;

    /// <summary>1.5 · 2²³, the same for float.</summary>
    public const float SingleShifter = 12582912f;

    public const int SingleShifterBits = 0x4B400000;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Shifter<T>()
        where T : IFloatingPointIeee754<T> =>
        typeof(T) == typeof(double) ? T.CreateTruncating(DoubleShifter) : T.CreateTruncating(SingleShifter);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp<T, TV, TOps>(TV x)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        if (typeof(T) == typeof(double))
        {
            TV shifted = TOps.MultiplyAdd(x, Constant.Of<T, TV, TOps>(1.4426950408889634), Constant.Of<T, TV, TOps>(DoubleShifter));
            TV n = TOps.Subtract(shifted, Constant.Of<T, TV, TOps>(DoubleShifter));
            TV r = TOps.MultiplyAdd(n, Constant.Of<T, TV, TOps>(-6.93147180369123816490e-01), x);
            r = TOps.MultiplyAdd(n, Constant.Of<T, TV, TOps>(-1.90821492927058770002e-10), r);
            TV r2 = TOps.Multiply(r, r);
            TV r4 = TOps.Multiply(r2, r2);
            TV q0 = TOps.MultiplyAdd(r, Constant.Of<T, TV, TOps>(1.0), Constant.Of<T, TV, TOps>(1.0));
            TV q1 = TOps.MultiplyAdd(r, Constant.Of<T, TV, TOps>(1.0 / 6.0), Constant.Of<T, TV, TOps>(0.5));
            TV q2 = TOps.MultiplyAdd(r, Constant.Of<T, TV, TOps>(1.0 / 120.0), Constant.Of<T, TV, TOps>(1.0 / 24.0));
            TV q3 = TOps.MultiplyAdd(r, Constant.Of<T, TV, TOps>(1.0 / 5040.0), Constant.Of<T, TV, TOps>(1.0 / 720.0));
            TV q4 = TOps.MultiplyAdd(r, Constant.Of<T, TV, TOps>(1.0 / 362880.0), Constant.Of<T, TV, TOps>(1.0 / 40320.0));
            TV q5 = TOps.MultiplyAdd(r, Constant.Of<T, TV, TOps>(1.0 / 39916800.0), Constant.Of<T, TV, TOps>(1.0 / 3628800.0));
            TV q6 = TOps.MultiplyAdd(r, Constant.Of<T, TV, TOps>(1.0 / 6227020800.0), Constant.Of<T, TV, TOps>(1.0 / 479001600.0));
            TV w0 = TOps.MultiplyAdd(q1, r2, q0);
            TV w1 = TOps.MultiplyAdd(q3, r2, q2);
            TV w2 = TOps.MultiplyAdd(q5, r2, q4);
            TV z1 = TOps.MultiplyAdd(TOps.MultiplyAdd(q6, r4, w2), r4, w1);
            TV p = TOps.MultiplyAdd(z1, r4, w0);
            TV y = TOps.ScaleByPowerOfTwo(p, n, shifted);
            y = TOps.Select(TOps.GreaterThan(x, Constant.Of<T, TV, TOps>(709.782712893384)), Constant.Of<T, TV, TOps>(double.PositiveInfinity), y);
            return TOps.Select(TOps.LessThan(x, Constant.Of<T, TV, TOps>(-745.1332191019412)), TOps.Zero, y);
        }
        else
        {
            TV shifted = TOps.MultiplyAdd(x, Constant.Of<T, TV, TOps>(1.44269504f), Constant.Of<T, TV, TOps>(SingleShifter));
            TV n = TOps.Subtract(shifted, Constant.Of<T, TV, TOps>(SingleShifter));
            TV r = TOps.MultiplyAdd(n, Constant.Of<T, TV, TOps>(-0.693145751953125f), x);
            r = TOps.MultiplyAdd(n, Constant.Of<T, TV, TOps>(-1.42860677e-06f), r);
            TV r2 = TOps.Multiply(r, r);
            TV q0 = TOps.MultiplyAdd(r, Constant.Of<T, TV, TOps>(1f), Constant.Of<T, TV, TOps>(1f));
            TV q1 = TOps.MultiplyAdd(r, Constant.Of<T, TV, TOps>(1f / 6f), Constant.Of<T, TV, TOps>(0.5f));
            TV q2 = TOps.MultiplyAdd(r, Constant.Of<T, TV, TOps>(1f / 120f), Constant.Of<T, TV, TOps>(1f / 24f));
            TV q3 = TOps.MultiplyAdd(r, Constant.Of<T, TV, TOps>(1f / 5040f), Constant.Of<T, TV, TOps>(1f / 720f));
            TV p = TOps.MultiplyAdd(TOps.MultiplyAdd(q3, r2, q2), TOps.Multiply(r2, r2), TOps.MultiplyAdd(q1, r2, q0));
            TV y = TOps.ScaleByPowerOfTwo(p, n, shifted);
            y = TOps.Select(TOps.GreaterThan(x, Constant.Of<T, TV, TOps>(88.72283905206835f)), Constant.Of<T, TV, TOps>(float.PositiveInfinity), y);
            return TOps.Select(TOps.LessThan(x, Constant.Of<T, TV, TOps>(-103.97207708399179f)), TOps.Zero, y);
        }
    }

    /// <summary>exp of every element into a separate destination, through <see cref="Dispatch"/> like every kernel: for tests and benchmarks.</summary>
    public static void Exp<T>(ReadOnlySpan<T> x, Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        ElementWise.Apply<T, ExpFunction>(x, destination);

    private readonly struct ExpFunction : IElementFunction
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Invoke<T, TV, TOps>(TV x)
            where T : unmanaged, IBinaryFloatingPointIeee754<T>
            where TV : struct
            where TOps : struct, ISimd<TV, T> =>
            TOps.Exp(x);
    }
}
