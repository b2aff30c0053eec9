using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EmKernels.Kernels.Common;

namespace EmKernels.Kernels;

/// <summary>
/// Gaussian kernels over feature-major tiles: feature d of point n is at <c>x[d·stride + n]</c>, so
/// the work vectorizes along points. Log-densities are written component-major (K × B), ready for
/// <see cref="MixtureKernels.Responsibilities{T}"/>.
/// </summary>
/// <remarks>
/// Squared distances are computed as (x − μ)² rather than the expanded x² − 2xμ + μ², so data far
/// from the origin (|x| ≈ 1e6 with unit spread) keep their spread. Results may differ in the last
/// bits between the Vector512/256/128 and scalar paths (fused multiply-add is used where available).
/// </remarks>
public static partial class GaussianKernels
{
    /// <summary>
    /// Log-densities for diagonal covariance: effectively computes
    /// <c>destination[k·points + n] = offsets[k] − ½ Σ_d precisions[k·D + d] · (x[d·stride + n] − means[k·D + d])²</c>.
    /// With <see cref="DiagonalParameters{T}"/>'s offsets this is log w_k + log N(x_n | μ_k, diag(σ²_k)).
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="x">Feature-major tile: feature d of point n at <c>d·stride + n</c>.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="points">B (≥ 0).</param>
    /// <param name="stride">Distance between features in <paramref name="x"/> (≥ B).</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="means">K × D means, component-major.</param>
    /// <param name="precisions">K × D inverse variances 1/σ²_kd.</param>
    /// <param name="offsets">K per-component constants (typically log w_k − ½(D log 2π + Σ_d log σ²_kd)).</param>
    /// <param name="destination">K × B outputs, component-major. Must not overlap the inputs.</param>
    /// <remarks>Special values follow IEEE arithmetic: a NaN or ±∞ in a point's features gives NaN or −∞ for that point.</remarks>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range, or <paramref name="stride"/> &lt; <paramref name="points"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    // Called per tile from the first pass on: optimized at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DiagonalLogDensity<T>(
        ReadOnlySpan<T> x,
        int features,
        int points,
        int stride,
        int components,
        ReadOnlySpan<T> means,
        ReadOnlySpan<T> precisions,
        ReadOnlySpan<T> offsets,
        Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckLogDensityShapes(x, features, points, stride, components, means, offsets, destination);
        Shape.Exact(precisions.Length, components, features, nameof(precisions), "components × features");
        LogDensity<T, DiagonalDistance>(x, features, points, stride, components, means, precisions, offsets, destination);
    }

    /// <summary>
    /// Log-densities for spherical covariance: effectively computes
    /// <c>destination[k·points + n] = offsets[k] − ½ precisions[k] · Σ_d (x[d·stride + n] − means[k·D + d])²</c>.
    /// With <see cref="SphericalParameters{T}"/>'s offsets this is log w_k + log N(x_n | μ_k, σ²_k I).
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="x">Feature-major tile: feature d of point n at <c>d·stride + n</c>.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="points">B (≥ 0).</param>
    /// <param name="stride">Distance between features in <paramref name="x"/> (≥ B).</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="means">K × D means, component-major.</param>
    /// <param name="precisions">K inverse variances 1/σ²_k.</param>
    /// <param name="offsets">K per-component constants (typically log w_k − ½ D (log 2π + log σ²_k)).</param>
    /// <param name="destination">K × B outputs, component-major. Must not overlap the inputs.</param>
    /// <remarks>Special values follow IEEE arithmetic: a NaN or ±∞ in a point's features gives NaN or −∞ for that point.</remarks>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range, or <paramref name="stride"/> &lt; <paramref name="points"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    // Called per tile from the first pass on: optimized at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SphericalLogDensity<T>(
        ReadOnlySpan<T> x,
        int features,
        int points,
        int stride,
        int components,
        ReadOnlySpan<T> means,
        ReadOnlySpan<T> precisions,
        ReadOnlySpan<T> offsets,
        Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckLogDensityShapes(x, features, points, stride, components, means, offsets, destination);
        Shape.Exact(precisions.Length, components, 1, nameof(precisions), "one per component");
        LogDensity<T, SphericalDistance>(x, features, points, stride, components, means, precisions, offsets, destination);
    }

    private static void CheckLogDensityShapes<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, int components, ReadOnlySpan<T> means, ReadOnlySpan<T> offsets, Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.LogDensityTile<T>(x.Length, features, points, stride, components, offsets.Length, destination.Length);
        Shape.Exact(means.Length, components, features, nameof(means), "components × features");
    }

    /// <summary>How a covariance type turns the per-feature differences of one component into −½ × Mahalanobis².</summary>
    private interface IDistance
    {
        /// <summary>Accumulates feature d's term into <paramref name="sum"/>.</summary>
        static abstract TV Accumulate<T, TV, TOps>(TV sum, TV difference, ref T precisions, int k, int d, int features)
            where T : unmanaged, IBinaryFloatingPointIeee754<T>
            where TV : struct
            where TOps : struct, ISimd<TV, T>;

        /// <summary>Turns the accumulated sum into offset − ½ × distance.</summary>
        static abstract TV Finish<T, TV, TOps>(TV sum, ref T precisions, int k, T offset)
            where T : unmanaged, IBinaryFloatingPointIeee754<T>
            where TV : struct
            where TOps : struct, ISimd<TV, T>;
    }

    private readonly struct DiagonalDistance : IDistance
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Accumulate<T, TV, TOps>(TV sum, TV difference, ref T precisions, int k, int d, int features)
            where T : unmanaged, IBinaryFloatingPointIeee754<T>
            where TV : struct
            where TOps : struct, ISimd<TV, T> =>
            TOps.MultiplyAdd(TOps.Multiply(difference, difference), TOps.Broadcast(Unsafe.Add(ref precisions, k * features + d)), sum);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Finish<T, TV, TOps>(TV sum, ref T precisions, int k, T offset)
            where T : unmanaged, IBinaryFloatingPointIeee754<T>
            where TV : struct
            where TOps : struct, ISimd<TV, T> =>
            TOps.MultiplyAdd(sum, TOps.Broadcast(-T.CreateTruncating(0.5)), TOps.Broadcast(offset));
    }

    private readonly struct SphericalDistance : IDistance
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Accumulate<T, TV, TOps>(TV sum, TV difference, ref T precisions, int k, int d, int features)
            where T : unmanaged, IBinaryFloatingPointIeee754<T>
            where TV : struct
            where TOps : struct, ISimd<TV, T> =>
            TOps.MultiplyAdd(difference, difference, sum);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Finish<T, TV, TOps>(TV sum, ref T precisions, int k, T offset)
            where T : unmanaged, IBinaryFloatingPointIeee754<T>
            where TV : struct
            where TOps : struct, ISimd<TV, T> =>
            TOps.MultiplyAdd(sum, TOps.Broadcast(-T.CreateTruncating(0.5) * Unsafe.Add(ref precisions, k)), TOps.Broadcast(offset));
    }

    private static void LogDensity<T, TDistance>(
        ReadOnlySpan<T> x, int features, int points, int stride, int components, ReadOnlySpan<T> means, ReadOnlySpan<T> precisions, ReadOnlySpan<T> offsets, Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TDistance : struct, IDistance
    {
        var arguments = new DensityArguments<T>(
            ref MemoryMarshal.GetReference(x), features, points, stride, components, ref MemoryMarshal.GetReference(means),
            ref MemoryMarshal.GetReference(precisions), ref MemoryMarshal.GetReference(offsets), ref MemoryMarshal.GetReference(destination));
        Dispatch.Run<T, DensityBody<T, TDistance>, DensityArguments<T>>(points, ref arguments);
    }

    /// <summary>The validated arguments of a diagonal or spherical log-density, as references.</summary>
    private ref struct DensityArguments<T>(
        ref T x, int features, int points, int stride, int components, ref T means, ref T precisions, ref T offsets, ref T destination)
        where T : unmanaged
    {
        public ref T X = ref x;
        public int Features = features;
        public int Points = points;
        public int Stride = stride;
        public int Components = components;
        public ref T Means = ref means;
        public ref T Precisions = ref precisions;
        public ref T Offsets = ref offsets;
        public ref T Destination = ref destination;
    }

    private readonly struct DensityBody<T, TDistance> : IKernelBody<T, DensityArguments<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TDistance : struct, IDistance
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run<TV, TOps>(ref DensityArguments<T> a)
            where TV : struct
            where TOps : struct, ISimd<TV, T> =>
            LogDensity<T, TV, TOps, TDistance>(ref a.X, a.Features, a.Points, a.Stride, a.Components, ref a.Means, ref a.Precisions, ref a.Offsets, ref a.Destination);
    }

    // Tails: element-wise over points and the destination does not alias the inputs, so the last block
    // overlaps the previous one (recomputing some points identically). Points go in chunks of PointChunk
    // with the components outermost inside a chunk, so each output row is written sequentially while the
    // chunk's features stay in cache. Eight point vectors at a time, one base index for all eight: their
    // eight sums are independent chains sharing each broadcast mean and precision. A chain step is one
    // multiply-add (latency 4) fed by a multiply, so two pipes need eight chains in flight; four ran at
    // 1.7× the multiply-add bound. Fewer than eight vectors of points go one vector at a time.
    // Requires points >= TOps.Count (or points == 0).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LogDensity<T, TV, TOps, TDistance>(
        ref T x, int features, int points, int stride, int components, ref T means, ref T precisions, ref T offsets, ref T destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
        where TDistance : struct, IDistance
    {
        int width = TOps.Count;
        int block = 8 * width;
        int lastBlock = points - block;
        for (int start = 0; start < points; start += MixtureKernels.PointChunk)
        {
            int end = Math.Min(start + MixtureKernels.PointChunk, points);
            for (int k = 0; k < components; k++)
            {
                T offset = Unsafe.Add(ref offsets, k);
                ref T row = ref Unsafe.Add(ref destination, (nint)k * points);
                ref T mu = ref Unsafe.Add(ref means, k * features);
                if (lastBlock < 0)
                {
                    for (int n = start; n < end; n += width)
                    {
                        nuint at = (nuint)Math.Min(n, points - width);
                        TV sum = TOps.Zero;
                        for (int d = 0; d < features; d++)
                        {
                            TV difference = TOps.Subtract(TOps.Load(ref Unsafe.Add(ref x, (nint)d * stride), at), TOps.Broadcast(Unsafe.Add(ref mu, d)));
                            sum = TDistance.Accumulate<T, TV, TOps>(sum, difference, ref precisions, k, d, features);
                        }

                        TOps.Store(TDistance.Finish<T, TV, TOps>(sum, ref precisions, k, offset), ref row, at);
                    }

                    continue;
                }

                for (int n = start; n < end; n += block)
                {
                    nint at = Math.Min(n, lastBlock);
                    TV sum0 = TOps.Zero, sum1 = TOps.Zero, sum2 = TOps.Zero, sum3 = TOps.Zero;
                    TV sum4 = TOps.Zero, sum5 = TOps.Zero, sum6 = TOps.Zero, sum7 = TOps.Zero;
                    ref T xd = ref Unsafe.Add(ref x, at);
                    for (int d = 0; d < features; d++, xd = ref Unsafe.Add(ref xd, stride))
                    {
                        TV m = TOps.Broadcast(Unsafe.Add(ref mu, d));
                        sum0 = TDistance.Accumulate<T, TV, TOps>(sum0, TOps.Subtract(m, TOps.Load(ref xd, 0)), ref precisions, k, d, features);
                        sum1 = TDistance.Accumulate<T, TV, TOps>(sum1, TOps.Subtract(m, TOps.Load(ref xd, (nuint)width)), ref precisions, k, d, features);
                        sum2 = TDistance.Accumulate<T, TV, TOps>(sum2, TOps.Subtract(m, TOps.Load(ref xd, (nuint)(2 * width))), ref precisions, k, d, features);
                        sum3 = TDistance.Accumulate<T, TV, TOps>(sum3, TOps.Subtract(m, TOps.Load(ref xd, (nuint)(3 * width))), ref precisions, k, d, features);
                        sum4 = TDistance.Accumulate<T, TV, TOps>(sum4, TOps.Subtract(m, TOps.Load(ref xd, (nuint)(4 * width))), ref precisions, k, d, features);
                        sum5 = TDistance.Accumulate<T, TV, TOps>(sum5, TOps.Subtract(m, TOps.Load(ref xd, (nuint)(5 * width))), ref precisions, k, d, features);
                        sum6 = TDistance.Accumulate<T, TV, TOps>(sum6, TOps.Subtract(m, TOps.Load(ref xd, (nuint)(6 * width))), ref precisions, k, d, features);
                        sum7 = TDistance.Accumulate<T, TV, TOps>(sum7, TOps.Subtract(m, TOps.Load(ref xd, (nuint)(7 * width))), ref precisions, k, d, features);
                    }

                    ref T output = ref Unsafe.Add(ref row, at);
                    TOps.Store(TDistance.Finish<T, TV, TOps>(sum0, ref precisions, k, offset), ref output, 0);
                    TOps.Store(TDistance.Finish<T, TV, TOps>(sum1, ref precisions, k, offset), ref output, (nuint)width);
                    TOps.Store(TDistance.Finish<T, TV, TOps>(sum2, ref precisions, k, offset), ref output, (nuint)(2 * width));
                    TOps.Store(TDistance.Finish<T, TV, TOps>(sum3, ref precisions, k, offset), ref output, (nuint)(3 * width));
                    TOps.Store(TDistance.Finish<T, TV, TOps>(sum4, ref precisions, k, offset), ref output, (nuint)(4 * width));
                    TOps.Store(TDistance.Finish<T, TV, TOps>(sum5, ref precisions, k, offset), ref output, (nuint)(5 * width));
                    TOps.Store(TDistance.Finish<T, TV, TOps>(sum6, ref precisions, k, offset), ref output, (nuint)(6 * width));
                    TOps.Store(TDistance.Finish<T, TV, TOps>(sum7, ref precisions, k, offset), ref output, (nuint)(7 * width));
                }
            }
        }
    }
}
