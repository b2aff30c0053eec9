using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EmKernels.Kernels.Common;

namespace EmKernels.Kernels;

public static partial class GaussianKernels
{
    /// <summary>
    /// Log-densities for factor-analyzer covariances C_k = W_k W_kᵀ + Ψ_k through the Woodbury identity, never a D × D
    /// matrix: with G_k = (I + W_kᵀ Ψ_k⁻¹ W_k)⁻¹ = L_k L_kᵀ and the projections P_k = L_kᵀ W_kᵀ Ψ_k⁻¹ (q × D),
    /// (x − μ)ᵀ C_k⁻¹ (x − μ) = Σ_d ψ⁻¹_kd (x_d − μ_kd)² − ‖P_k (x − μ_k)‖², so this effectively computes
    /// <c>destination[k·points + n] = offsets[k] − ½ [Σ_d noisePrecisions[k·D + d]·δ_d² − Σ_l (Σ_d projections[(k·q + l)·D + d]·δ_d)²]</c>
    /// with δ_d = x[d·stride + n] − means[k·D + d]: O(D (q + 1)) per point and component instead of O(D²).
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="x">Feature-major tile: feature d of point n at <c>d·stride + n</c>.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="points">B (≥ 0).</param>
    /// <param name="stride">Distance between features in <paramref name="x"/> (≥ B).</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="factors">q (≥ 0).</param>
    /// <param name="means">K × D means, component-major.</param>
    /// <param name="noisePrecisions">K × D inverse noise variances 1/ψ_kd.</param>
    /// <param name="projections">K × q × D: P_k[l, d] at <c>(k·q + l)·D + d</c>.</param>
    /// <param name="offsets">K per-component constants (typically log w_k − ½ (D log 2π + log det C_k)).</param>
    /// <param name="destination">K × B outputs, component-major. Must not overlap the inputs.</param>
    /// <remarks>
    /// The difference of the two quadratic forms is exact algebra but rounds like the larger of them: the result
    /// carries an error of about ε · Σ_d ψ⁻¹ δ², which matters only where the noise is tiny next to the factors'
    /// variance (evaluate such models in double). Special values follow IEEE arithmetic.
    /// </remarks>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range, or <paramref name="stride"/> &lt; <paramref name="points"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FactorLogDensity<T>(
        ReadOnlySpan<T> x,
        int features,
        int points,
        int stride,
        int components,
        int factors,
        ReadOnlySpan<T> means,
        ReadOnlySpan<T> noisePrecisions,
        ReadOnlySpan<T> projections,
        ReadOnlySpan<T> offsets,
        Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckLogDensityShapes(x, features, points, stride, components, means, offsets, destination);
        Shape.NonNegative(factors, nameof(factors));
        Shape.Exact(noisePrecisions.Length, components, features, nameof(noisePrecisions), "components × features");
        Shape.Exact(projections.Length, components, factors * features, nameof(projections), "components × factors × features");
        if (points == 0)
        {
            return;
        }

        var arguments = new FactorArguments<T>(
            ref MemoryMarshal.GetReference(x), features, points, stride, components, factors, ref MemoryMarshal.GetReference(means),
            ref MemoryMarshal.GetReference(noisePrecisions), ref MemoryMarshal.GetReference(projections), ref MemoryMarshal.GetReference(offsets),
            ref MemoryMarshal.GetReference(destination));
        Dispatch.Run<T, FactorBody<T>, FactorArguments<T>>(points, ref arguments);
    }

    /// <summary>The validated arguments of <see cref="FactorLogDensity{T}"/>, as references.</summary>
    private ref struct FactorArguments<T>(
        ref T x, int features, int points, int stride, int components, int factors, ref T means, ref T noisePrecisions, ref T projections, ref T offsets, ref T destination)
        where T : unmanaged
    {
        public ref T X = ref x;
        public int Features = features;
        public int Points = points;
        public int Stride = stride;
        public int Components = components;
        public int Factors = factors;
        public ref T Means = ref means;
        public ref T NoisePrecisions = ref noisePrecisions;
        public ref T Projections = ref projections;
        public ref T Offsets = ref offsets;
        public ref T Destination = ref destination;
    }

    private readonly struct FactorBody<T> : IKernelBody<T, FactorArguments<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run<TV, TOps>(ref FactorArguments<T> a)
            where TV : struct
            where TOps : struct, ISimd<TV, T>
        {
            int width = TOps.Count, d = a.Features, q = a.Factors;
            TV minusHalf = TOps.Broadcast(-T.CreateTruncating(0.5));
            for (int k = 0; k < a.Components; k++)
            {
                ref T mean = ref Unsafe.Add(ref a.Means, k * d);
                ref T precision = ref Unsafe.Add(ref a.NoisePrecisions, k * d);
                ref T projection = ref Unsafe.Add(ref a.Projections, k * q * d);
                ref T row = ref Unsafe.Add(ref a.Destination, k * a.Points);
                TV offset = TOps.Broadcast(Unsafe.Add(ref a.Offsets, k));

                // Tails: the last vector overlaps the one before (recomputing some points identically).
                for (int n = 0; n < a.Points; n += width)
                {
                    nuint at = (nuint)Math.Min(n, a.Points - width);
                    TV diagonal = TOps.Zero;
                    for (int f = 0; f < d; f++)
                    {
                        TV delta = TOps.Subtract(TOps.Load(ref Unsafe.Add(ref a.X, f * a.Stride), at), TOps.Broadcast(Unsafe.Add(ref mean, f)));
                        diagonal = TOps.MultiplyAdd(TOps.Multiply(delta, delta), TOps.Broadcast(Unsafe.Add(ref precision, f)), diagonal);
                    }

                    // Four projections at a time, each an independent chain over the features.
                    TV explained = TOps.Zero;
                    for (int l = 0; l < q; l += 4)
                    {
                        int group = Math.Min(4, q - l);
                        ProjectFour<T, TV, TOps>(ref a.X, a.Stride, at, ref mean, ref projection, d, l, group, out TV s0, out TV s1, out TV s2, out TV s3);

                        // A short group repeats its last row; only its first `group` sums count.
                        explained = TOps.MultiplyAdd(s0, s0, explained);
                        if (group > 1)
                        {
                            explained = TOps.MultiplyAdd(s1, s1, explained);
                        }

                        if (group > 2)
                        {
                            explained = TOps.MultiplyAdd(s2, s2, explained);
                        }

                        if (group > 3)
                        {
                            explained = TOps.MultiplyAdd(s3, s3, explained);
                        }
                    }

                    TOps.Store(TOps.MultiplyAdd(TOps.Subtract(diagonal, explained), minusHalf, offset), ref row, at);
                }
            }
        }
    }

    /// <summary>
    /// Rows l … l + 3 of a q × D projection P applied to x − μ for one vector of points (at <paramref name="at"/>):
    /// four independent chains over the features, each loaded x_d − μ_d feeding four multiply-adds. A group shorter than
    /// four repeats its last row; the caller uses only its first <paramref name="group"/> sums. Shared by the factor
    /// log-density (‖P (x − μ)‖²) and the factor statistics (E[z | x] = B (x − μ)).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ProjectFour<T, TV, TOps>(ref T x, int stride, nuint at, ref T mean, ref T projection, int features, int l, int group, out TV s0, out TV s1, out TV s2, out TV s3)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        int d = features;
        ref T p0 = ref Unsafe.Add(ref projection, l * d);
        ref T p1 = ref Unsafe.Add(ref projection, (l + Math.Min(1, group - 1)) * d);
        ref T p2 = ref Unsafe.Add(ref projection, (l + Math.Min(2, group - 1)) * d);
        ref T p3 = ref Unsafe.Add(ref projection, (l + Math.Min(3, group - 1)) * d);
        s0 = TOps.Zero;
        s1 = TOps.Zero;
        s2 = TOps.Zero;
        s3 = TOps.Zero;
        for (int f = 0; f < d; f++)
        {
            TV delta = TOps.Subtract(TOps.Load(ref Unsafe.Add(ref x, f * stride), at), TOps.Broadcast(Unsafe.Add(ref mean, f)));
            s0 = TOps.MultiplyAdd(delta, TOps.Broadcast(Unsafe.Add(ref p0, f)), s0);
            s1 = TOps.MultiplyAdd(delta, TOps.Broadcast(Unsafe.Add(ref p1, f)), s1);
            s2 = TOps.MultiplyAdd(delta, TOps.Broadcast(Unsafe.Add(ref p2, f)), s2);
            s3 = TOps.MultiplyAdd(delta, TOps.Broadcast(Unsafe.Add(ref p3, f)), s3);
        }
    }
}
