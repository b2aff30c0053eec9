using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using EmKernels.Kernels.Common;

namespace EmKernels.Kernels;

public static partial class GaussianKernels
{
    /// <summary>
    /// Log-densities for full covariance through the Cholesky factor of each precision matrix:
    /// with U_k upper triangular and Σ_k⁻¹ = U_k U_kᵀ, effectively computes
    /// <c>destination[k·points + n] = offsets[k] − ½ Σ_j (Σ_{i ≤ j} (x_in − μ_ki) U_k[i, j])²</c>.
    /// With <see cref="FullParameters{T}"/>'s outputs this is log w_k + log N(x_n | μ_k, Σ_k).
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="x">Feature-major tile: feature d of point n at <c>d·stride + n</c>.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="points">B (≥ 0).</param>
    /// <param name="stride">Distance between features in <paramref name="x"/> (≥ B).</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="means">K × D means, component-major.</param>
    /// <param name="precisionCholesky">K × D × D: U_k[i, j] at <c>(k·D + i)·D + j</c>, upper triangular (entries below the diagonal are not read).</param>
    /// <param name="offsets">K per-component constants (typically log w_k − ½ D log 2π + Σ_j log U_k[j, j]).</param>
    /// <param name="destination">K × B outputs, component-major. Must not overlap the inputs.</param>
    /// <remarks>
    /// The differences x − μ are formed first, so data far from the origin keep their spread. Special
    /// values follow IEEE arithmetic: a NaN or ±∞ feature gives NaN (or −∞) for that point.
    /// </remarks>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range, or <paramref name="stride"/> &lt; <paramref name="points"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    // Called per tile from the first pass on: optimized at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FullLogDensity<T>(
        ReadOnlySpan<T> x,
        int features,
        int points,
        int stride,
        int components,
        ReadOnlySpan<T> means,
        ReadOnlySpan<T> precisionCholesky,
        ReadOnlySpan<T> offsets,
        Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckLogDensityShapes(x, features, points, stride, components, means, offsets, destination);
        Shape.Exact(precisionCholesky.Length, components, features * features, nameof(precisionCholesky), "components × features × features");
        TriangularLogDensity(x, features, points, stride, components, means, precisionCholesky, features * features, offsets, destination);
    }

    /// <summary>
    /// Log-densities for tied covariance (one precision Cholesky factor U shared by all components):
    /// effectively computes <c>destination[k·points + n] = offsets[k] − ½ Σ_j (Σ_{i ≤ j} (x_in − μ_ki) U[i, j])²</c>.
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="x">Feature-major tile: feature d of point n at <c>d·stride + n</c>.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="points">B (≥ 0).</param>
    /// <param name="stride">Distance between features in <paramref name="x"/> (≥ B).</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="means">K × D means, component-major.</param>
    /// <param name="precisionCholesky">D × D: U[i, j] at <c>i·D + j</c>, upper triangular (entries below the diagonal are not read).</param>
    /// <param name="offsets">K per-component constants.</param>
    /// <param name="destination">K × B outputs, component-major. Must not overlap the inputs.</param>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range, or <paramref name="stride"/> &lt; <paramref name="points"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    // Called per tile from the first pass on: optimized at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TiedLogDensity<T>(
        ReadOnlySpan<T> x,
        int features,
        int points,
        int stride,
        int components,
        ReadOnlySpan<T> means,
        ReadOnlySpan<T> precisionCholesky,
        ReadOnlySpan<T> offsets,
        Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckLogDensityShapes(x, features, points, stride, components, means, offsets, destination);
        Shape.Exact(precisionCholesky.Length, features, features, nameof(precisionCholesky), "features × features");
        TriangularLogDensity(x, features, points, stride, components, means, precisionCholesky, 0, offsets, destination);
    }

    /// <summary>
    /// Accumulates the weighted sufficient statistics of full-covariance components about a
    /// per-component shift c: with v_kn = w_n · r_kn and t = x_n − c_k,
    /// <code>
    /// weightSums[k]            += Σ_n v_kn
    /// firstMoments[k·D + a]    += Σ_n v_kn t_a
    /// scatter[(k·D + a)·D + b] += Σ_n v_kn t_a t_b      for a ≤ b only
    /// </code>
    /// Only the upper triangle (a ≤ b) of each scatter matrix is accumulated; the strictly lower
    /// triangle is never touched. Then μ_k = c_k + S1/N_k and Σ_k = S/N_k − (S1/N_k)(S1/N_k)ᵀ.
    /// </summary>
    /// <typeparam name="T">float or double; sums go to double accumulators at least every 256 points.</typeparam>
    /// <param name="x">Feature-major tile: feature d of point n at <c>d·stride + n</c>.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="points">B (≥ 0).</param>
    /// <param name="stride">Distance between features in <paramref name="x"/> (≥ B).</param>
    /// <param name="responsibilities">K × B responsibilities, component-major.</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="sampleWeights">Empty, or B per-point weights (not validated here).</param>
    /// <param name="shift">K × D shift c_k (for example the current means).</param>
    /// <param name="weightSums">K accumulators, added to.</param>
    /// <param name="firstMoments">K × D accumulators, added to.</param>
    /// <param name="scatter">K × D × D accumulators, upper triangles added to.</param>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range, or <paramref name="stride"/> &lt; <paramref name="points"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    // Called per tile from the first pass on: optimized at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FullSufficientStatistics<T>(
        ReadOnlySpan<T> x,
        int features,
        int points,
        int stride,
        ReadOnlySpan<T> responsibilities,
        int components,
        ReadOnlySpan<T> sampleWeights,
        ReadOnlySpan<T> shift,
        Span<double> weightSums,
        Span<double> firstMoments,
        Span<double> scatter)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckScatterShapes(x, features, points, stride, responsibilities, components, sampleWeights, shift, weightSums, firstMoments);
        Shape.Exact(scatter.Length, components, features * features, nameof(scatter), "components × features × features");
        Scatter(x, features, points, stride, responsibilities, components, sampleWeights, shift, weightSums, firstMoments, scatter, features * features);
    }

    /// <summary>
    /// Like <see cref="FullSufficientStatistics{T}"/>, but pools the scatter of all components into one
    /// D × D matrix, as tied covariance needs: <c>scatter[a·D + b] += Σ_k Σ_n v_kn (x_an − c_ka)(x_bn − c_kb)</c>
    /// for a ≤ b. Then Σ = (S − Σ_k N_k δ_k δ_kᵀ) / Σ_k N_k with δ_k = S1_k / N_k.
    /// </summary>
    /// <typeparam name="T">float or double; sums go to double accumulators at least every 256 points.</typeparam>
    /// <param name="x">Feature-major tile: feature d of point n at <c>d·stride + n</c>.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="points">B (≥ 0).</param>
    /// <param name="stride">Distance between features in <paramref name="x"/> (≥ B).</param>
    /// <param name="responsibilities">K × B responsibilities, component-major.</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="sampleWeights">Empty, or B per-point weights (not validated here).</param>
    /// <param name="shift">K × D shift c_k.</param>
    /// <param name="weightSums">K accumulators, added to.</param>
    /// <param name="firstMoments">K × D accumulators, added to.</param>
    /// <param name="scatter">D × D accumulators, upper triangle added to.</param>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range, or <paramref name="stride"/> &lt; <paramref name="points"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    // Called per tile from the first pass on: optimized at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void TiedSufficientStatistics<T>(
        ReadOnlySpan<T> x,
        int features,
        int points,
        int stride,
        ReadOnlySpan<T> responsibilities,
        int components,
        ReadOnlySpan<T> sampleWeights,
        ReadOnlySpan<T> shift,
        Span<double> weightSums,
        Span<double> firstMoments,
        Span<double> scatter)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckScatterShapes(x, features, points, stride, responsibilities, components, sampleWeights, shift, weightSums, firstMoments);
        Shape.Exact(scatter.Length, features, features, nameof(scatter), "features × features");
        Scatter(x, features, points, stride, responsibilities, components, sampleWeights, shift, weightSums, firstMoments, scatter, 0);
    }

    private static void CheckScatterShapes<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, ReadOnlySpan<T> responsibilities, int components,
        ReadOnlySpan<T> sampleWeights, ReadOnlySpan<T> shift, Span<double> weightSums, Span<double> firstMoments)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.StatisticsTile<T>(x.Length, features, points, stride, responsibilities.Length, components, sampleWeights.Length, weightSums.Length);
        Shape.Exact(shift.Length, components, features, nameof(shift), "components × features");
        Shape.Exact(firstMoments.Length, components, features, nameof(firstMoments), "components × features");
    }

    private static void TriangularLogDensity<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, int components, ReadOnlySpan<T> means,
        ReadOnlySpan<T> precisionCholesky, int factorStride, ReadOnlySpan<T> offsets, Span<T> destination)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (points == 0)
        {
            return;
        }

        // Scratch: the D differences of four point vectors.
        int length = 4 * features * Vector512<T>.Count;
        Span<T> scratch = Scratch.Get<T>(length);
        var args = new Triangular<T>(
            ref MemoryMarshal.GetReference(x), features, points, stride, components, ref MemoryMarshal.GetReference(means),
            ref MemoryMarshal.GetReference(precisionCholesky), factorStride, ref MemoryMarshal.GetReference(offsets),
            ref MemoryMarshal.GetReference(destination), ref MemoryMarshal.GetReference(scratch));
        Dispatch.Run<T, TriangularBody<T>, Triangular<T>>(points, ref args);
    }

    private readonly struct TriangularBody<T> : IKernelBody<T, Triangular<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run<TV, TOps>(ref Triangular<T> a)
            where TV : struct
            where TOps : struct, ISimd<TV, T> =>
            TriangularLogDensity<T, TV, TOps>(ref a);
    }

    /// <summary>The validated arguments of a triangular log-density, as references.</summary>
    private ref struct Triangular<T>(
        ref T x, int features, int points, int stride, int components, ref T means, ref T factors, int factorStride, ref T offsets, ref T destination, ref T scratch)
        where T : unmanaged
    {
        public ref T X = ref x;
        public int Features = features;
        public int Points = points;
        public int Stride = stride;
        public int Components = components;
        public ref T Means = ref means;
        public ref T Factors = ref factors;
        public int FactorStride = factorStride;
        public ref T Offsets = ref offsets;
        public ref T Destination = ref destination;
        public ref T Scratch = ref scratch;
    }

    // Tails: element-wise over points, destination separate from the inputs, so the last vector
    // overlaps the previous one. Register blocks of 4 point vectors × 4 columns j: per row i, 4 loaded
    // differences and 4 broadcast factor entries feed 16 multiply-adds (16 accumulators in registers).
    // The rows i ≤ j fill every column of a block; the three rows below the block's first column fill
    // a triangle of it and are peeled, so the inner loop has no branches.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TriangularLogDensity<T, TV, TOps>(ref Triangular<T> a)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        int width = TOps.Count;
        int features = a.Features;
        int points = a.Points;
        int last = points - width;
        ref T diffs = ref a.Scratch;
        nuint w1 = (nuint)width, w2 = (nuint)(2 * width), w3 = (nuint)(3 * width), row = (nuint)(4 * width);
        TV minusHalf = TOps.Broadcast(-T.CreateTruncating(0.5));
        for (int start = 0; start < points; start += MixtureKernels.PointChunk)
        {
            int end = Math.Min(start + MixtureKernels.PointChunk, points);
            for (int k = 0; k < a.Components; k++)
            {
                ref T mu = ref Unsafe.Add(ref a.Means, k * features);
                ref T u = ref Unsafe.Add(ref a.Factors, k * a.FactorStride);
                TV offset = TOps.Broadcast(Unsafe.Add(ref a.Offsets, k));
                ref T destination = ref Unsafe.Add(ref a.Destination, (nint)k * points);
                for (int n = start; n < end; n += 4 * width)
                {
                    nuint at0 = (nuint)Math.Min(n, last);
                    nuint at1 = (nuint)Math.Min(n + width, last);
                    nuint at2 = (nuint)Math.Min(n + 2 * width, last);
                    nuint at3 = (nuint)Math.Min(n + 3 * width, last);
                    for (int d = 0; d < features; d++)
                    {
                        TV m = TOps.Broadcast(Unsafe.Add(ref mu, d));
                        ref T xd = ref Unsafe.Add(ref a.X, (nint)d * a.Stride);
                        nuint at = (nuint)d * row;
                        TOps.Store(TOps.Subtract(TOps.Load(ref xd, at0), m), ref diffs, at);
                        TOps.Store(TOps.Subtract(TOps.Load(ref xd, at1), m), ref diffs, at + w1);
                        TOps.Store(TOps.Subtract(TOps.Load(ref xd, at2), m), ref diffs, at + w2);
                        TOps.Store(TOps.Subtract(TOps.Load(ref xd, at3), m), ref diffs, at + w3);
                    }

                    TV q0 = TOps.Zero, q1 = TOps.Zero, q2 = TOps.Zero, q3 = TOps.Zero;
                    int j = 0;
                    for (; j + 4 <= features; j += 4)
                    {
                        TV y00 = TOps.Zero, y01 = TOps.Zero, y02 = TOps.Zero, y03 = TOps.Zero;
                        TV y10 = TOps.Zero, y11 = TOps.Zero, y12 = TOps.Zero, y13 = TOps.Zero;
                        TV y20 = TOps.Zero, y21 = TOps.Zero, y22 = TOps.Zero, y23 = TOps.Zero;
                        TV y30 = TOps.Zero, y31 = TOps.Zero, y32 = TOps.Zero, y33 = TOps.Zero;
                        for (int i = 0; i <= j; i++)
                        {
                            nuint at = (nuint)i * row;
                            TV d0 = TOps.Load(ref diffs, at);
                            TV d1 = TOps.Load(ref diffs, at + w1);
                            TV d2 = TOps.Load(ref diffs, at + w2);
                            TV d3 = TOps.Load(ref diffs, at + w3);
                            ref T ui = ref Unsafe.Add(ref u, i * features + j);
                            TV f = TOps.Broadcast(ui);
                            y00 = TOps.MultiplyAdd(d0, f, y00);
                            y10 = TOps.MultiplyAdd(d1, f, y10);
                            y20 = TOps.MultiplyAdd(d2, f, y20);
                            y30 = TOps.MultiplyAdd(d3, f, y30);
                            f = TOps.Broadcast(Unsafe.Add(ref ui, 1));
                            y01 = TOps.MultiplyAdd(d0, f, y01);
                            y11 = TOps.MultiplyAdd(d1, f, y11);
                            y21 = TOps.MultiplyAdd(d2, f, y21);
                            y31 = TOps.MultiplyAdd(d3, f, y31);
                            f = TOps.Broadcast(Unsafe.Add(ref ui, 2));
                            y02 = TOps.MultiplyAdd(d0, f, y02);
                            y12 = TOps.MultiplyAdd(d1, f, y12);
                            y22 = TOps.MultiplyAdd(d2, f, y22);
                            y32 = TOps.MultiplyAdd(d3, f, y32);
                            f = TOps.Broadcast(Unsafe.Add(ref ui, 3));
                            y03 = TOps.MultiplyAdd(d0, f, y03);
                            y13 = TOps.MultiplyAdd(d1, f, y13);
                            y23 = TOps.MultiplyAdd(d2, f, y23);
                            y33 = TOps.MultiplyAdd(d3, f, y33);
                        }

                        // Rows j + 1 … j + 3 reach columns j + 1 … j + 3 only (entries below the diagonal are not read).
                        for (int i = j + 1; i < j + 4; i++)
                        {
                            nuint at = (nuint)i * row;
                            TV d0 = TOps.Load(ref diffs, at);
                            TV d1 = TOps.Load(ref diffs, at + w1);
                            TV d2 = TOps.Load(ref diffs, at + w2);
                            TV d3 = TOps.Load(ref diffs, at + w3);
                            ref T ui = ref Unsafe.Add(ref u, i * features + j);
                            TV f = TOps.Broadcast(Unsafe.Add(ref ui, 3));
                            y03 = TOps.MultiplyAdd(d0, f, y03);
                            y13 = TOps.MultiplyAdd(d1, f, y13);
                            y23 = TOps.MultiplyAdd(d2, f, y23);
                            y33 = TOps.MultiplyAdd(d3, f, y33);
                            if (i <= j + 2)
                            {
                                f = TOps.Broadcast(Unsafe.Add(ref ui, 2));
                                y02 = TOps.MultiplyAdd(d0, f, y02);
                                y12 = TOps.MultiplyAdd(d1, f, y12);
                                y22 = TOps.MultiplyAdd(d2, f, y22);
                                y32 = TOps.MultiplyAdd(d3, f, y32);
                            }

                            if (i == j + 1)
                            {
                                f = TOps.Broadcast(Unsafe.Add(ref ui, 1));
                                y01 = TOps.MultiplyAdd(d0, f, y01);
                                y11 = TOps.MultiplyAdd(d1, f, y11);
                                y21 = TOps.MultiplyAdd(d2, f, y21);
                                y31 = TOps.MultiplyAdd(d3, f, y31);
                            }
                        }

                        q0 = TOps.MultiplyAdd(y00, y00, TOps.MultiplyAdd(y01, y01, TOps.MultiplyAdd(y02, y02, TOps.MultiplyAdd(y03, y03, q0))));
                        q1 = TOps.MultiplyAdd(y10, y10, TOps.MultiplyAdd(y11, y11, TOps.MultiplyAdd(y12, y12, TOps.MultiplyAdd(y13, y13, q1))));
                        q2 = TOps.MultiplyAdd(y20, y20, TOps.MultiplyAdd(y21, y21, TOps.MultiplyAdd(y22, y22, TOps.MultiplyAdd(y23, y23, q2))));
                        q3 = TOps.MultiplyAdd(y30, y30, TOps.MultiplyAdd(y31, y31, TOps.MultiplyAdd(y32, y32, TOps.MultiplyAdd(y33, y33, q3))));
                    }

                    for (; j < features; j++)
                    {
                        TV y0 = TOps.Zero, y1 = TOps.Zero, y2 = TOps.Zero, y3 = TOps.Zero;
                        for (int i = 0; i <= j; i++)
                        {
                            nuint at = (nuint)i * row;
                            TV f = TOps.Broadcast(Unsafe.Add(ref u, i * features + j));
                            y0 = TOps.MultiplyAdd(TOps.Load(ref diffs, at), f, y0);
                            y1 = TOps.MultiplyAdd(TOps.Load(ref diffs, at + w1), f, y1);
                            y2 = TOps.MultiplyAdd(TOps.Load(ref diffs, at + w2), f, y2);
                            y3 = TOps.MultiplyAdd(TOps.Load(ref diffs, at + w3), f, y3);
                        }

                        q0 = TOps.MultiplyAdd(y0, y0, q0);
                        q1 = TOps.MultiplyAdd(y1, y1, q1);
                        q2 = TOps.MultiplyAdd(y2, y2, q2);
                        q3 = TOps.MultiplyAdd(y3, y3, q3);
                    }

                    // Store the later vectors first: vectors clamped to the same last position are equal anyway.
                    TOps.Store(TOps.MultiplyAdd(q3, minusHalf, offset), ref destination, at3);
                    TOps.Store(TOps.MultiplyAdd(q2, minusHalf, offset), ref destination, at2);
                    TOps.Store(TOps.MultiplyAdd(q1, minusHalf, offset), ref destination, at1);
                    TOps.Store(TOps.MultiplyAdd(q0, minusHalf, offset), ref destination, at0);
                }
            }
        }
    }
}
