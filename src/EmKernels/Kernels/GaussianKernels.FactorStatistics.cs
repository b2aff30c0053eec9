using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using EmKernels.Kernels.Common;

namespace EmKernels.Kernels;

public static partial class GaussianKernels
{
    /// <summary>
    /// Accumulates the factor parts of the expected complete-data statistics of factor-analyzer components (the mixture
    /// of factor analyzers' E-step), in O(D q) per point and component where a full-covariance scatter costs O(D²).
    /// With v_kn = w_n · r_kn, y_kn = x_n − c_k (the shift) and e_kn = B_k (x_n − μ_k) (the posterior mean of the
    /// factors, B_k = G_k W_kᵀ Ψ_k⁻¹, q × D), this effectively computes
    /// <code>
    /// crossMoments[(k·D + d)·q + l]  += Σ_n v_kn y_kdn e_kln
    /// factorSums[k·q + l]            += Σ_n v_kn e_kln
    /// factorSquares[(k·q + l)·q + m] += Σ_n v_kn e_kln e_kmn
    /// </code>
    /// The mass and the diagonal moments of y come from <see cref="DiagonalSufficientStatistics{T}"/>; the posterior
    /// covariance term Σ_n v_kn G_k of E[z zᵀ] is the caller's (it is the same for every point).
    /// </summary>
    /// <typeparam name="T">float or double. Sums are accumulated in <typeparamref name="T"/> over at most 256 points
    /// and then added to the double accumulators.</typeparam>
    /// <param name="x">Feature-major tile: feature d of point n at <c>d·stride + n</c>.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="points">B (≥ 0).</param>
    /// <param name="stride">Distance between features in <paramref name="x"/> (≥ B).</param>
    /// <param name="responsibilities">K × B responsibilities, component-major.</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="factors">q (≥ 0).</param>
    /// <param name="sampleWeights">Empty, or B per-point weights w_n (not validated here).</param>
    /// <param name="shift">K × D shift c_kd.</param>
    /// <param name="means">K × D means μ_kd.</param>
    /// <param name="posteriorProjections">K × q × D: B_k[l, d] at <c>(k·q + l)·D + d</c>.</param>
    /// <param name="crossMoments">K × D × q accumulators, added to.</param>
    /// <param name="factorSums">K × q accumulators, added to.</param>
    /// <param name="factorSquares">K × q × q accumulators (full, symmetric), added to.</param>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range, or <paramref name="stride"/> &lt; <paramref name="points"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    // Called per tile from the first pass on: optimized at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FactorSufficientStatistics<T>(
        ReadOnlySpan<T> x,
        int features,
        int points,
        int stride,
        ReadOnlySpan<T> responsibilities,
        int components,
        int factors,
        ReadOnlySpan<T> sampleWeights,
        ReadOnlySpan<T> shift,
        ReadOnlySpan<T> means,
        ReadOnlySpan<T> posteriorProjections,
        Span<double> crossMoments,
        Span<double> factorSums,
        Span<double> factorSquares)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.StatisticsTile<T>(x.Length, features, points, stride, responsibilities.Length, components, sampleWeights.Length, components);
        Shape.NonNegative(factors, nameof(factors));
        Shape.Exact(shift.Length, components, features, nameof(shift), "components × features");
        Shape.Exact(means.Length, components, features, nameof(means), "components × features");
        Shape.Exact(posteriorProjections.Length, components, factors * features, nameof(posteriorProjections), "components × factors × features");
        Shape.Exact(crossMoments.Length, components, features * factors, nameof(crossMoments), "components × features × factors");
        Shape.Exact(factorSums.Length, components, factors, nameof(factorSums), "components × factors");
        Shape.Exact(factorSquares.Length, components, factors * factors, nameof(factorSquares), "components × factors × factors");
        if (points == 0 || factors == 0)
        {
            return;
        }

        // Scratch: e and v·e of one chunk, q rows of the chunk's slots each (a tail vector takes one more slot).
        int slots = MixtureKernels.PointChunk + Vector512<T>.Count;
        Span<T> scratch = Scratch.Get<T>(2 * factors * slots);
        var arguments = new FactorStatistics<T>
        {
            X = ref MemoryMarshal.GetReference(x),
            Features = features,
            Points = points,
            Stride = stride,
            Responsibilities = ref MemoryMarshal.GetReference(responsibilities),
            Components = components,
            Factors = factors,
            Weights = ref MemoryMarshal.GetReference(sampleWeights),
            Weighted = !sampleWeights.IsEmpty,
            Shift = ref MemoryMarshal.GetReference(shift),
            Means = ref MemoryMarshal.GetReference(means),
            Projections = ref MemoryMarshal.GetReference(posteriorProjections),
            Cross = ref MemoryMarshal.GetReference(crossMoments),
            Sums = ref MemoryMarshal.GetReference(factorSums),
            Squares = ref MemoryMarshal.GetReference(factorSquares),
            Scratch = ref MemoryMarshal.GetReference(scratch),
            Slots = slots,
        };
        Dispatch.Run<T, FactorStatisticsBody<T>, FactorStatistics<T>>(points, ref arguments);
    }

    private ref struct FactorStatistics<T>
        where T : unmanaged
    {
        public ref T X;
        public int Features;
        public int Points;
        public int Stride;
        public ref T Responsibilities;
        public int Components;
        public int Factors;
        public ref T Weights;
        public bool Weighted;
        public ref T Shift;
        public ref T Means;
        public ref T Projections;
        public ref double Cross;
        public ref double Sums;
        public ref double Squares;
        public ref T Scratch;
        public int Slots;
    }

    // Per chunk of at most 256 points and per component: (1) e = B (x − μ) and v·e for every point vector into scratch
    // (the tail vector overlaps the one before; its lanes already counted get v = 0); (2) Σ v e and Σ v e eᵀ from
    // scratch; (3) Σ v y eᵀ, four features by four factors at a time (16 independent chains; each loaded y and v·e
    // feeds four multiply-adds), reduced into the double accumulators at the end of the chunk.
    private readonly struct FactorStatisticsBody<T> : IKernelBody<T, FactorStatistics<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run<TV, TOps>(ref FactorStatistics<T> a)
            where TV : struct
            where TOps : struct, ISimd<TV, T>
        {
            int width = TOps.Count, d = a.Features, q = a.Factors, points = a.Points;
            int full = points - (points % width);
            ref T posterior = ref a.Scratch;
            ref T weighted = ref Unsafe.Add(ref a.Scratch, q * a.Slots);
            for (int start = 0; start < full; start += MixtureKernels.PointChunk)
            {
                int vectors = (Math.Min(start + MixtureKernels.PointChunk, full) - start) / width;
                bool tail = start + MixtureKernels.PointChunk >= full && full != points;
                int slots = tail ? vectors + 1 : vectors;
                TV fresh = TOps.LanesFrom(tail ? (start + vectors * width) - (points - width) : 0);
                for (int k = 0; k < a.Components; k++)
                {
                    ref T r = ref Unsafe.Add(ref a.Responsibilities, (nint)k * points);
                    ref T mean = ref Unsafe.Add(ref a.Means, k * d);
                    ref T shift = ref Unsafe.Add(ref a.Shift, k * d);
                    ref T projection = ref Unsafe.Add(ref a.Projections, k * q * d);

                    // (1) e and v·e per slot.
                    for (int j = 0; j < slots; j++)
                    {
                        bool isTail = j == vectors;
                        nuint at = isTail ? (nuint)(points - width) : (nuint)(start + j * width);
                        TV v = TOps.Load(ref r, at);
                        if (a.Weighted)
                        {
                            v = TOps.Multiply(v, TOps.Load(ref a.Weights, at));
                        }

                        if (isTail)
                        {
                            v = TOps.Select(fresh, v, TOps.Zero);
                        }

                        for (int l = 0; l < q; l += 4)
                        {
                            int group = Math.Min(4, q - l);
                            ProjectFour<T, TV, TOps>(ref a.X, a.Stride, at, ref mean, ref projection, d, l, group, out TV s0, out TV s1, out TV s2, out TV s3);

                            // A short group repeats its last row; only its first `group` rows are stored.
                            nuint slot = (nuint)(j * width);
                            Store<TV, TOps>(ref posterior, ref weighted, a.Slots, l, slot, s0, v);
                            if (group > 1)
                            {
                                Store<TV, TOps>(ref posterior, ref weighted, a.Slots, l + 1, slot, s1, v);
                            }

                            if (group > 2)
                            {
                                Store<TV, TOps>(ref posterior, ref weighted, a.Slots, l + 2, slot, s2, v);
                            }

                            if (group > 3)
                            {
                                Store<TV, TOps>(ref posterior, ref weighted, a.Slots, l + 3, slot, s3, v);
                            }
                        }
                    }

                    // (2) Σ v e and Σ v e eᵀ (upper triangle, mirrored).
                    ref double sums = ref Unsafe.Add(ref a.Sums, k * q);
                    ref double squares = ref Unsafe.Add(ref a.Squares, k * q * q);
                    for (int l = 0; l < q; l++)
                    {
                        ref T ve = ref Unsafe.Add(ref weighted, l * a.Slots);
                        TV sum = TOps.Zero;
                        for (int j = 0; j < slots; j++)
                        {
                            sum = TOps.Add(sum, TOps.Load(ref ve, (nuint)(j * width)));
                        }

                        Unsafe.Add(ref sums, l) += TOps.SumToDouble(sum);
                        for (int m = l; m < q; m++)
                        {
                            ref T e = ref Unsafe.Add(ref posterior, m * a.Slots);
                            TV square = TOps.Zero;
                            for (int j = 0; j < slots; j++)
                            {
                                square = TOps.MultiplyAdd(TOps.Load(ref ve, (nuint)(j * width)), TOps.Load(ref e, (nuint)(j * width)), square);
                            }

                            double value = TOps.SumToDouble(square);
                            Unsafe.Add(ref squares, l * q + m) += value;
                            if (m != l)
                            {
                                Unsafe.Add(ref squares, m * q + l) += value;
                            }
                        }
                    }

                    // (3) Σ v y eᵀ.
                    ref double cross = ref Unsafe.Add(ref a.Cross, k * d * q);
                    for (int f = 0; f < d; f += 4)
                    {
                        int rows = Math.Min(4, d - f);
                        ref T x0 = ref Unsafe.Add(ref a.X, f * a.Stride);
                        ref T x1 = ref Unsafe.Add(ref a.X, (f + Math.Min(1, rows - 1)) * a.Stride);
                        ref T x2 = ref Unsafe.Add(ref a.X, (f + Math.Min(2, rows - 1)) * a.Stride);
                        ref T x3 = ref Unsafe.Add(ref a.X, (f + Math.Min(3, rows - 1)) * a.Stride);
                        TV c0 = TOps.Broadcast(Unsafe.Add(ref shift, f));
                        TV c1 = TOps.Broadcast(Unsafe.Add(ref shift, f + Math.Min(1, rows - 1)));
                        TV c2 = TOps.Broadcast(Unsafe.Add(ref shift, f + Math.Min(2, rows - 1)));
                        TV c3 = TOps.Broadcast(Unsafe.Add(ref shift, f + Math.Min(3, rows - 1)));
                        for (int l = 0; l < q; l += 4)
                        {
                            int group = Math.Min(4, q - l);
                            ref T w0 = ref Unsafe.Add(ref weighted, l * a.Slots);
                            ref T w1 = ref Unsafe.Add(ref weighted, (l + Math.Min(1, group - 1)) * a.Slots);
                            ref T w2 = ref Unsafe.Add(ref weighted, (l + Math.Min(2, group - 1)) * a.Slots);
                            ref T w3 = ref Unsafe.Add(ref weighted, (l + Math.Min(3, group - 1)) * a.Slots);
                            TV a00 = TOps.Zero, a01 = TOps.Zero, a02 = TOps.Zero, a03 = TOps.Zero;
                            TV a10 = TOps.Zero, a11 = TOps.Zero, a12 = TOps.Zero, a13 = TOps.Zero;
                            TV a20 = TOps.Zero, a21 = TOps.Zero, a22 = TOps.Zero, a23 = TOps.Zero;
                            TV a30 = TOps.Zero, a31 = TOps.Zero, a32 = TOps.Zero, a33 = TOps.Zero;
                            for (int j = 0; j < slots; j++)
                            {
                                nuint at = j == vectors ? (nuint)(points - width) : (nuint)(start + j * width);
                                nuint slot = (nuint)(j * width);
                                TV e0 = TOps.Load(ref w0, slot), e1 = TOps.Load(ref w1, slot), e2 = TOps.Load(ref w2, slot), e3 = TOps.Load(ref w3, slot);
                                TV y = TOps.Subtract(TOps.Load(ref x0, at), c0);
                                a00 = TOps.MultiplyAdd(y, e0, a00);
                                a01 = TOps.MultiplyAdd(y, e1, a01);
                                a02 = TOps.MultiplyAdd(y, e2, a02);
                                a03 = TOps.MultiplyAdd(y, e3, a03);
                                y = TOps.Subtract(TOps.Load(ref x1, at), c1);
                                a10 = TOps.MultiplyAdd(y, e0, a10);
                                a11 = TOps.MultiplyAdd(y, e1, a11);
                                a12 = TOps.MultiplyAdd(y, e2, a12);
                                a13 = TOps.MultiplyAdd(y, e3, a13);
                                y = TOps.Subtract(TOps.Load(ref x2, at), c2);
                                a20 = TOps.MultiplyAdd(y, e0, a20);
                                a21 = TOps.MultiplyAdd(y, e1, a21);
                                a22 = TOps.MultiplyAdd(y, e2, a22);
                                a23 = TOps.MultiplyAdd(y, e3, a23);
                                y = TOps.Subtract(TOps.Load(ref x3, at), c3);
                                a30 = TOps.MultiplyAdd(y, e0, a30);
                                a31 = TOps.MultiplyAdd(y, e1, a31);
                                a32 = TOps.MultiplyAdd(y, e2, a32);
                                a33 = TOps.MultiplyAdd(y, e3, a33);
                            }

                            // Short groups repeat their last feature or factor; only the real ones are added.
                            AddRow<TV, TOps>(ref Unsafe.Add(ref cross, f * q + l), group, a00, a01, a02, a03);
                            if (rows > 1)
                            {
                                AddRow<TV, TOps>(ref Unsafe.Add(ref cross, (f + 1) * q + l), group, a10, a11, a12, a13);
                            }

                            if (rows > 2)
                            {
                                AddRow<TV, TOps>(ref Unsafe.Add(ref cross, (f + 2) * q + l), group, a20, a21, a22, a23);
                            }

                            if (rows > 3)
                            {
                                AddRow<TV, TOps>(ref Unsafe.Add(ref cross, (f + 3) * q + l), group, a30, a31, a32, a33);
                            }
                        }
                    }
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store<TV, TOps>(ref T posterior, ref T weighted, int slots, int row, nuint slot, TV e, TV v)
            where TV : struct
            where TOps : struct, ISimd<TV, T>
        {
            TOps.Store(e, ref Unsafe.Add(ref posterior, row * slots), slot);
            TOps.Store(TOps.Multiply(v, e), ref Unsafe.Add(ref weighted, row * slots), slot);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void AddRow<TV, TOps>(ref double destination, int group, TV s0, TV s1, TV s2, TV s3)
            where TV : struct
            where TOps : struct, ISimd<TV, T>
        {
            if (group == 4)
            {
                TOps.AddSumsToDouble(s0, s1, s2, s3, ref destination);
                return;
            }

            destination += TOps.SumToDouble(s0);
            if (group > 1)
            {
                Unsafe.Add(ref destination, 1) += TOps.SumToDouble(s1);
            }

            if (group > 2)
            {
                Unsafe.Add(ref destination, 2) += TOps.SumToDouble(s2);
            }
        }
    }
}
