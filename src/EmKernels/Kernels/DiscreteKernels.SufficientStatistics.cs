using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EmKernels.Kernels.Common;

namespace EmKernels.Kernels;

public static partial class DiscreteKernels
{
    /// <summary>
    /// Weighted counts for Bernoulli, binomial and Poisson components: with v_kn = w_n · r_kn,
    /// <c>weightSums[k] += Σ_n v_kn</c> and <c>sums[k·D + j] += Σ_n v_kn x_jn</c>.
    /// </summary>
    /// <typeparam name="T">float or double; sums go to double accumulators at least every 256 points.</typeparam>
    /// <param name="x">Feature-major tile of counts.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="points">B (≥ 0).</param>
    /// <param name="stride">Distance between features in <paramref name="x"/> (≥ B).</param>
    /// <param name="responsibilities">K × B responsibilities, component-major.</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="sampleWeights">Empty, or B per-point weights (not validated here).</param>
    /// <param name="weightSums">K accumulators, added to.</param>
    /// <param name="sums">K × D accumulators, added to.</param>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range.</exception>
    // Called per tile from the first pass on: optimized at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CountSufficientStatistics<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, ReadOnlySpan<T> responsibilities, int components,
        ReadOnlySpan<T> sampleWeights, Span<double> weightSums, Span<double> sums)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.StatisticsTile<T>(x.Length, features, points, stride, responsibilities.Length, components, sampleWeights.Length, weightSums.Length);
        Shape.Exact(sums.Length, components, features, nameof(sums), "components × features");
        Counts(x, features, points, stride, responsibilities, components, sampleWeights, weightSums, sums, 0);
    }

    /// <summary>
    /// Weighted category counts for categorical components: with v_kn = w_n · r_kn,
    /// <c>weightSums[k] += Σ_n v_kn</c> and <c>counts[(k·D + j)·C + c] += Σ_n v_kn [x_jn = c]</c>.
    /// </summary>
    /// <typeparam name="T">float or double; sums go to double accumulators at least every 256 points.</typeparam>
    /// <param name="x">Feature-major tile of category codes 0 … C − 1.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="points">B (≥ 0).</param>
    /// <param name="stride">Distance between features in <paramref name="x"/> (≥ B).</param>
    /// <param name="responsibilities">K × B responsibilities, component-major.</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="categories">C (≥ 1).</param>
    /// <param name="sampleWeights">Empty, or B per-point weights (not validated here).</param>
    /// <param name="weightSums">K accumulators, added to.</param>
    /// <param name="counts">K × D × C accumulators, added to.</param>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range.</exception>
    // Called per tile from the first pass on: optimized at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CategoricalSufficientStatistics<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, ReadOnlySpan<T> responsibilities, int components, int categories,
        ReadOnlySpan<T> sampleWeights, Span<double> weightSums, Span<double> counts)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        Shape.StatisticsTile<T>(x.Length, features, points, stride, responsibilities.Length, components, sampleWeights.Length, weightSums.Length);
        Shape.Positive(categories, nameof(categories));
        Shape.Exact(counts.Length, components, features * categories, nameof(counts), "components × features × categories");
        Counts(x, features, points, stride, responsibilities, components, sampleWeights, weightSums, counts, categories);
    }

    private static void Counts<T>(
        ReadOnlySpan<T> x, int features, int points, int stride, ReadOnlySpan<T> responsibilities, int components,
        ReadOnlySpan<T> sampleWeights, Span<double> weightSums, Span<double> sums, int categories)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var a = new CountStatistics<T>(
            ref MemoryMarshal.GetReference(x), features, points, stride, ref MemoryMarshal.GetReference(responsibilities), components,
            ref MemoryMarshal.GetReference(sampleWeights), !sampleWeights.IsEmpty, categories,
            ref MemoryMarshal.GetReference(weightSums), ref MemoryMarshal.GetReference(sums));
        Dispatch.Run<T, CountStatisticsBody<T>, CountStatistics<T>>(points, ref a);
    }

    private ref struct CountStatistics<T>(
        ref T x, int features, int points, int stride, ref T responsibilities, int components, ref T weights, bool weighted, int categories,
        ref double weightSums, ref double sums)
        where T : unmanaged
    {
        public ref T X = ref x;
        public int Features = features;
        public int Points = points;
        public int Stride = stride;
        public ref T Responsibilities = ref responsibilities;
        public int Components = components;
        public ref T Weights = ref weights;
        public bool Weighted = weighted;
        public int Categories = categories;
        public ref double WeightSums = ref weightSums;
        public ref double Sums = ref sums;
    }

    // Tails: a reduction, so the last vector overlaps the previous one and its stale lanes are masked
    // to the identity 0 (after the product, so an infinite count in a counted lane cannot make NaN).
    // Sums run in T over chunks of PointChunk points, then go to the double accumulators.
    private readonly struct CountStatisticsBody<T> : IKernelBody<T, CountStatistics<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run<TV, TOps>(ref CountStatistics<T> a)
            where TV : struct
            where TOps : struct, ISimd<TV, T>
        {
            int width = TOps.Count;
            int points = a.Points;
            int full = points - (points % width);
            int outcomes = Math.Max(a.Categories, 1);
            for (int start = 0; start < full; start += MixtureKernels.PointChunk)
            {
                int vectors = Math.Min(MixtureKernels.PointChunk, full - start) / width;
                bool tail = start + MixtureKernels.PointChunk >= full && full != points;
                int slots = tail ? vectors + 1 : vectors;
                TV fresh = TOps.LanesFrom(tail ? (start + vectors * width) - (points - width) : 0);
                for (int k = 0; k < a.Components; k++)
                {
                    ref T r = ref Unsafe.Add(ref a.Responsibilities, (nint)k * points);
                    TV mass = TOps.Zero;
                    for (int s = 0; s < slots; s++)
                    {
                        nuint at = (nuint)(s < vectors ? start + s * width : points - width);
                        TV v = Weight<TV, TOps>(ref a, ref r, at);
                        mass = TOps.Add(mass, s < vectors ? v : TOps.Select(fresh, v, TOps.Zero));
                    }

                    Unsafe.Add(ref a.WeightSums, k) += TOps.SumToDouble(mass);
                    for (int j = 0; j < a.Features; j++)
                    {
                        for (int c = 0; c < outcomes; c++)
                        {
                            TV code = TOps.Broadcast(T.CreateTruncating(c));
                            TV sum = TOps.Zero;
                            for (int s = 0; s < slots; s++)
                            {
                                nuint at = (nuint)(s < vectors ? start + s * width : points - width);
                                TV v = Weight<TV, TOps>(ref a, ref r, at);
                                TV value = TOps.Load(ref a.X, (nuint)j * (nuint)a.Stride + at);
                                TV term = a.Categories == 0 ? TOps.Multiply(v, value) : TOps.Select(TOps.Equal(value, code), v, TOps.Zero);
                                sum = TOps.Add(sum, s < vectors ? term : TOps.Select(fresh, term, TOps.Zero));
                            }

                            Unsafe.Add(ref a.Sums, (k * a.Features + j) * outcomes + c) += TOps.SumToDouble(sum);
                        }
                    }
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static TV Weight<TV, TOps>(ref CountStatistics<T> a, ref T r, nuint at)
            where TV : struct
            where TOps : struct, ISimd<TV, T>
        {
            TV v = TOps.Load(ref r, at);
            return a.Weighted ? TOps.Multiply(v, TOps.Load(ref a.Weights, at)) : v;
        }
    }
}
