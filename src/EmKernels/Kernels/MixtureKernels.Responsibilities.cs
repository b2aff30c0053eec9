using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using EmKernels.Kernels.Common;

namespace EmKernels.Kernels;

public static partial class MixtureKernels
{
    /// <summary>
    /// Points per reduction chunk: sums over points are accumulated in element-typed vectors for at
    /// most this many points, then added to a double total, so float sums stay accurate over any length.
    /// A multiple of every vector width.
    /// </summary>
    internal const int ReductionChunk = 1024;

    /// <summary>
    /// The E-step's normalisation, in place: turns log ρ (log weight + log-density, K × B component-major)
    /// into responsibilities <c>r[k·points + n] = exp(logρ[k·points + n] − ℓ_n)</c>, where
    /// <c>ℓ_n = log Σ_k exp(logρ[k·points + n])</c> is the point's log-likelihood, and returns
    /// <c>Σ_n w_n · ℓ_n</c> (w_n = 1 when <paramref name="sampleWeights"/> is empty).
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="logProbabilities">K × B log ρ values, overwritten with the responsibilities.</param>
    /// <param name="components">K, the number of components (≥ 1).</param>
    /// <param name="points">B, the number of points (≥ 0).</param>
    /// <param name="logLikelihoods">B values receiving ℓ_n. Must not overlap <paramref name="logProbabilities"/>.</param>
    /// <param name="sampleWeights">Empty, or B per-point weights w_n. Not validated here (the models validate them).</param>
    /// <returns>The (weighted) sum of the per-point log-likelihoods, accumulated in double.</returns>
    /// <remarks>
    /// Each point's responsibilities sum to 1 within rounding. A point whose ℓ_n is not finite (all
    /// components −∞, or a +∞ or NaN input) gets ℓ_n as <see cref="LogSumExp{T}"/> defines it and
    /// responsibilities of exactly 0, so no NaN reaches the sufficient statistics; the returned sum then
    /// carries the −∞, +∞ or NaN. A point with weight exactly 0 adds nothing to the sum, even if ℓ_n = −∞.
    /// </remarks>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="components"/> &lt; 1 or <paramref name="points"/> &lt; 0.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    public static double Responsibilities<T>(
        Span<T> logProbabilities,
        int components,
        int points,
        Span<T> logLikelihoods,
        ReadOnlySpan<T> sampleWeights = default)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.CheckElementType<T>();
        Shape.Positive(components, nameof(components));
        Shape.NonNegative(points, nameof(points));
        Shape.Exact(logProbabilities.Length, components, points, nameof(logProbabilities), "components × points");
        Shape.Exact(logLikelihoods.Length, points, 1, nameof(logLikelihoods), "one per point");
        Shape.EmptyOrExact(sampleWeights.Length, points, nameof(sampleWeights));

        ref T block = ref MemoryMarshal.GetReference(logProbabilities);
        ref T normalizers = ref MemoryMarshal.GetReference(logLikelihoods);
        ref T weights = ref MemoryMarshal.GetReference(sampleWeights);
        bool weighted = !sampleWeights.IsEmpty;
        if (Vector512.IsHardwareAccelerated && points >= Vector512<T>.Count)
        {
            return Responsibilities<T, Vector512<T>, Simd512<T>>(ref block, components, points, ref normalizers, ref weights, weighted);
        }

        if (Vector256.IsHardwareAccelerated && points >= Vector256<T>.Count)
        {
            return Responsibilities<T, Vector256<T>, Simd256<T>>(ref block, components, points, ref normalizers, ref weights, weighted);
        }

        if (Vector128.IsHardwareAccelerated && points >= Vector128<T>.Count)
        {
            return Responsibilities<T, Vector128<T>, Simd128<T>>(ref block, components, points, ref normalizers, ref weights, weighted);
        }

        return Responsibilities<T, T, SimdScalar<T>>(ref block, components, points, ref normalizers, ref weights, weighted);
    }

    // Tails: the block is rewritten in place, so the last block cannot simply overlap the previous one
    // (its first lanes already hold responsibilities). It is loaded overlapping, computed on all lanes,
    // and blended by a mask so that only the fresh lanes are written and summed (identity 0).
    // Requires points >= TOps.Count.
    private static double Responsibilities<T, TV, TOps>(ref T block, int components, int points, ref T normalizers, ref T weights, bool weighted)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        int width = TOps.Count;
        double total = 0;
        TV chunkSum = TOps.Zero;
        int full = points - (points % width);
        for (int n = 0; n < full; n += width)
        {
            TV contribution = ResponsibilitiesAt<T, TV, TOps>(ref block, components, points, ref normalizers, ref weights, weighted, (nuint)n, default, false);
            chunkSum = TOps.Add(chunkSum, contribution);
            if ((n + width) % ReductionChunk == 0)
            {
                total += TOps.SumToDouble(chunkSum);
                chunkSum = TOps.Zero;
            }
        }

        if (full != points)
        {
            TV fresh = TOps.LanesFrom(width - (points - full));
            TV contribution = ResponsibilitiesAt<T, TV, TOps>(ref block, components, points, ref normalizers, ref weights, weighted, (nuint)(points - width), fresh, true);
            chunkSum = TOps.Add(chunkSum, contribution);
        }

        return total + TOps.SumToDouble(chunkSum);
    }

    /// <summary>Processes one vector of points; returns its (masked, weighted) log-likelihood contribution.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV ResponsibilitiesAt<T, TV, TOps>(
        ref T block, int components, int points, ref T normalizers, ref T weights, bool weighted, nuint n, TV fresh, bool masked)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        TV max = TOps.Load(ref block, n);
        for (int k = 1; k < components; k++)
        {
            max = TOps.Max(max, TOps.Load(ref block, (nuint)k * (nuint)points + n));
        }

        TV shift = TOps.Select(TOps.IsFinite(max), max, TOps.Zero);

        // Pass 2 stores e = exp(x − shift) in place, so pass 3 needs a multiply instead of a second exp.
        TV sum = TOps.Zero;
        for (int k = 0; k < components; k++)
        {
            nuint at = (nuint)k * (nuint)points + n;
            TV x = TOps.Load(ref block, at);
            TV e = TOps.Exp(TOps.Subtract(x, shift));
            sum = TOps.Add(sum, e);
            TOps.Store(masked ? TOps.Select(fresh, e, x) : e, ref block, at);
        }

        TV logLikelihood = TOps.Add(shift, TOps.Log(sum));
        TV finite = TOps.IsFinite(logLikelihood);
        TV scale = TOps.Select(finite, TOps.Divide(TOps.Broadcast(T.One), sum), TOps.Zero);
        for (int k = 0; k < components; k++)
        {
            nuint at = (nuint)k * (nuint)points + n;
            TV e = TOps.Load(ref block, at);
            TV r = TOps.Select(finite, TOps.Multiply(e, scale), TOps.Zero);
            TOps.Store(masked ? TOps.Select(fresh, r, e) : r, ref block, at);
        }

        TOps.Store(masked ? TOps.Select(fresh, logLikelihood, TOps.Load(ref normalizers, n)) : logLikelihood, ref normalizers, n);

        TV contribution = logLikelihood;
        if (weighted)
        {
            TV w = TOps.Load(ref weights, n);
            contribution = TOps.Select(TOps.IsZero(w), TOps.Zero, TOps.Multiply(w, logLikelihood));
        }

        return masked ? TOps.Select(fresh, contribution, TOps.Zero) : contribution;
    }
}
