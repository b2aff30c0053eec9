using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using EmKernels.Kernels.Common;

namespace EmKernels.Kernels;

/// <summary>
/// Kernels shared by every mixture model: the log-sum-exp over components and the responsibilities
/// (the E-step's normalisation). Blocks are component-major: row k of a K × B block holds component k
/// for B consecutive points, so reductions over components are vertical vector operations.
/// </summary>
/// <remarks>
/// Every kernel runs a Vector512, Vector256 or Vector128 path (the widest that is hardware-accelerated
/// and no wider than the number of points) or a scalar path. Results may differ in the last bits
/// between paths, because fused multiply-add and the vector exp/log are not bitwise identical to
/// their scalar counterparts.
/// </remarks>
public static partial class MixtureKernels
{
    /// <summary>
    /// Computes, for every point n of a component-major block, <c>destination[n] = log Σ_k exp(logProbabilities[k·points + n])</c>,
    /// shifted by the per-point maximum so that no exp overflows.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="logProbabilities">K × B values, component-major: component k of point n at <c>k·points + n</c>.</param>
    /// <param name="components">K, the number of components (≥ 1).</param>
    /// <param name="points">B, the number of points (≥ 0).</param>
    /// <param name="destination">B values receiving the log-sum-exp of each point. Must not overlap <paramref name="logProbabilities"/>.</param>
    /// <remarks>
    /// Special values: a point whose components are all −∞ gets −∞ (never NaN); a point with a +∞ and no
    /// NaN gets +∞; a point with any NaN gets NaN.
    /// </remarks>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="components"/> &lt; 1 or <paramref name="points"/> &lt; 0.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    public static void LogSumExp<T>(ReadOnlySpan<T> logProbabilities, int components, int points, Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.CheckElementType<T>();
        Shape.Positive(components, nameof(components));
        Shape.NonNegative(points, nameof(points));
        Shape.Exact(logProbabilities.Length, components, points, nameof(logProbabilities), "components × points");
        Shape.Exact(destination.Length, points, 1, nameof(destination), "one per point");

        ref T source = ref MemoryMarshal.GetReference(logProbabilities);
        ref T target = ref MemoryMarshal.GetReference(destination);
        if (Vector512.IsHardwareAccelerated && points >= Vector512<T>.Count)
        {
            LogSumExp<T, Vector512<T>, Simd512<T>>(ref source, components, points, ref target);
        }
        else if (Vector256.IsHardwareAccelerated && points >= Vector256<T>.Count)
        {
            LogSumExp<T, Vector256<T>, Simd256<T>>(ref source, components, points, ref target);
        }
        else if (Vector128.IsHardwareAccelerated && points >= Vector128<T>.Count)
        {
            LogSumExp<T, Vector128<T>, Simd128<T>>(ref source, components, points, ref target);
        }
        else
        {
            LogSumExp<T, T, SimdScalar<T>>(ref source, components, points, ref target);
        }
    }

    // Tails: element-wise over points and the source is read-only, so the last block overlaps the
    // previous one (recomputing a few points identically). Requires points >= TOps.Count.
    private static void LogSumExp<T, TV, TOps>(ref T source, int components, int points, ref T destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        int width = TOps.Count;
        int last = points - width;
        for (int n = 0; ; n += width)
        {
            if (n > last)
            {
                if (n == points)
                {
                    break;
                }

                n = last;
            }

            TOps.Store(LogSumExpAt<T, TV, TOps>(ref source, components, points, (nuint)n, out _, out _), ref destination, (nuint)n);
        }
    }

    /// <summary>
    /// The log-sum-exp of the points at <paramref name="n"/>, plus the shift it used (the maximum where
    /// finite, else 0) and the sum of exp(x − shift).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV LogSumExpAt<T, TV, TOps>(ref T source, int components, int points, nuint n, out TV shift, out TV sum)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        TV max = TOps.Load(ref source, n);
        for (int k = 1; k < components; k++)
        {
            max = TOps.Max(max, TOps.Load(ref source, (nuint)k * (nuint)points + n));
        }

        // Shifting by a non-finite maximum would turn −∞ − (−∞) into NaN; shifting by 0 instead gives
        // exp(−∞) = 0 → log 0 = −∞ for all −∞, and exp(+∞) = +∞ → +∞ when a +∞ is present.
        shift = TOps.Select(TOps.IsFinite(max), max, TOps.Zero);
        sum = TOps.Zero;
        for (int k = 0; k < components; k++)
        {
            sum = TOps.Add(sum, TOps.Exp(TOps.Subtract(TOps.Load(ref source, (nuint)k * (nuint)points + n), shift)));
        }

        return TOps.Add(shift, TOps.Log(sum));
    }
}
