using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EmKernels.Kernels.Common;

namespace EmKernels.Kernels;

public static partial class GaussianKernels
{
    /// <summary>
    /// Accumulates the weighted sufficient statistics of diagonal and spherical Gaussian components,
    /// as moments about a per-component shift c (for example the previous means), so that variances
    /// are never differences of huge numbers. Effectively, with v_kn = w_n · r_kn:
    /// <code>
    /// weightSums[k]          += Σ_n v_kn
    /// firstMoments[k·D + d]  += Σ_n v_kn (x_dn − c_kd)
    /// secondMoments[k·D + d] += Σ_n v_kn (x_dn − c_kd)²
    /// </code>
    /// Then μ_kd = c_kd + S1/N_k and σ²_kd = S2/N_k − (S1/N_k)². Spherical components use the same
    /// statistics, summed over d.
    /// </summary>
    /// <typeparam name="T">float or double. Sums are accumulated in <typeparamref name="T"/> over at most
    /// 1024 points and then added to the double accumulators.</typeparam>
    /// <param name="x">Feature-major tile: feature d of point n at <c>d·stride + n</c>.</param>
    /// <param name="features">D (≥ 1).</param>
    /// <param name="points">B (≥ 0).</param>
    /// <param name="stride">Distance between features in <paramref name="x"/> (≥ B).</param>
    /// <param name="responsibilities">K × B responsibilities, component-major.</param>
    /// <param name="components">K (≥ 1).</param>
    /// <param name="sampleWeights">Empty, or B per-point weights w_n (not validated here).</param>
    /// <param name="shift">K × D shift c_kd.</param>
    /// <param name="weightSums">K accumulators, added to.</param>
    /// <param name="firstMoments">K × D accumulators, added to.</param>
    /// <param name="secondMoments">K × D accumulators, added to.</param>
    /// <exception cref="ArgumentException">A span length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range, or <paramref name="stride"/> &lt; <paramref name="points"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    // Called per tile from the first pass on: optimized at once rather than after tiering (a fit is often shorter than tier-up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DiagonalSufficientStatistics<T>(
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
        Span<double> secondMoments)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CheckScatterShapes(x, features, points, stride, responsibilities, components, sampleWeights, shift, weightSums, firstMoments);
        Shape.Exact(secondMoments.Length, components, features, nameof(secondMoments), "components × features");

        var moments = new Moments<T>(
            ref MemoryMarshal.GetReference(x), features, points, stride,
            ref MemoryMarshal.GetReference(responsibilities), components,
            ref MemoryMarshal.GetReference(sampleWeights), !sampleWeights.IsEmpty,
            ref MemoryMarshal.GetReference(shift),
            ref MemoryMarshal.GetReference(weightSums),
            ref MemoryMarshal.GetReference(firstMoments),
            ref MemoryMarshal.GetReference(secondMoments));
        Dispatch.Run<T, MomentsBody<T>, Moments<T>>(points, ref moments);
    }

    private readonly struct MomentsBody<T> : IKernelBody<T, Moments<T>>
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Run<TV, TOps>(ref Moments<T> a)
            where TV : struct
            where TOps : struct, ISimd<TV, T> =>
            DiagonalSufficientStatistics<T, TV, TOps>(ref a);
    }

    /// <summary>The arguments of <see cref="DiagonalSufficientStatistics{T}"/>, validated, as references.</summary>
    private ref struct Moments<T>(
        ref T x, int features, int points, int stride, ref T responsibilities, int components, ref T weights, bool weighted,
        ref T shift, ref double weightSums, ref double firstMoments, ref double secondMoments)
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
        public ref T Shift = ref shift;
        public ref double WeightSums = ref weightSums;
        public ref double FirstMoments = ref firstMoments;
        public ref double SecondMoments = ref secondMoments;
    }

    // Tails: a reduction, so the last block is loaded overlapping the previous one and its already
    // counted lanes are masked to the identity (weight 0) — never double counted.
    // Sums run over chunks of ReductionChunk points in T, then go to the double accumulators.
    // Requires points >= TOps.Count (or points == 0).
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DiagonalSufficientStatistics<T, TV, TOps>(ref Moments<T> a)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
        where TV : struct
        where TOps : struct, ISimd<TV, T>
    {
        int width = TOps.Count;
        int points = a.Points;
        int features = a.Features;
        int full = points - (points % width);

        // With sample weights, w·r for one component and chunk is formed once here and reused for every feature.
        Span<T> weighted = a.Weighted ? stackalloc T[MixtureKernels.ReductionChunk] : default;
        ref T buffer = ref MemoryMarshal.GetReference(weighted);
        for (int start = 0; start < full; start += MixtureKernels.ReductionChunk)
        {
            int end = Math.Min(start + MixtureKernels.ReductionChunk, full);
            for (int k = 0; k < a.Components; k++)
            {
                ref T r = ref Unsafe.Add(ref a.Responsibilities, (nint)k * points + start);
                TV mass = TOps.Zero;
                for (int n = 0; n < end - start; n += width)
                {
                    TV v = TOps.Load(ref r, (nuint)n);
                    if (a.Weighted)
                    {
                        v = TOps.Multiply(v, TOps.Load(ref a.Weights, (nuint)(start + n)));
                        TOps.Store(v, ref buffer, (nuint)n);
                    }

                    mass = TOps.Add(mass, v);
                }

                Unsafe.Add(ref a.WeightSums, k) += TOps.SumToDouble(mass);
                ref T v0 = ref a.Weighted ? ref buffer : ref r;

                // Four features at a time: eight independent sums (one pair of chains was bound by the
                // add and multiply-add latencies), and each load of v serves four features.
                int d = 0;
                for (; d + 4 <= features; d += 4)
                {
                    ref T x0 = ref Unsafe.Add(ref a.X, (nint)d * a.Stride + start);
                    ref T x1 = ref Unsafe.Add(ref x0, a.Stride);
                    ref T x2 = ref Unsafe.Add(ref x1, a.Stride);
                    ref T x3 = ref Unsafe.Add(ref x2, a.Stride);
                    ref T shift = ref Unsafe.Add(ref a.Shift, k * features + d);
                    TV c0 = TOps.Broadcast(shift), c1 = TOps.Broadcast(Unsafe.Add(ref shift, 1));
                    TV c2 = TOps.Broadcast(Unsafe.Add(ref shift, 2)), c3 = TOps.Broadcast(Unsafe.Add(ref shift, 3));
                    TV f0 = TOps.Zero, f1 = TOps.Zero, f2 = TOps.Zero, f3 = TOps.Zero;
                    TV s0 = TOps.Zero, s1 = TOps.Zero, s2 = TOps.Zero, s3 = TOps.Zero;
                    for (int n = 0; n < end - start; n += width)
                    {
                        TV v = TOps.Load(ref v0, (nuint)n);
                        TV t0 = TOps.Subtract(TOps.Load(ref x0, (nuint)n), c0);
                        TV t1 = TOps.Subtract(TOps.Load(ref x1, (nuint)n), c1);
                        TV t2 = TOps.Subtract(TOps.Load(ref x2, (nuint)n), c2);
                        TV t3 = TOps.Subtract(TOps.Load(ref x3, (nuint)n), c3);
                        TV u0 = TOps.Multiply(v, t0), u1 = TOps.Multiply(v, t1), u2 = TOps.Multiply(v, t2), u3 = TOps.Multiply(v, t3);
                        f0 = TOps.Add(f0, u0);
                        f1 = TOps.Add(f1, u1);
                        f2 = TOps.Add(f2, u2);
                        f3 = TOps.Add(f3, u3);
                        s0 = TOps.MultiplyAdd(u0, t0, s0);
                        s1 = TOps.MultiplyAdd(u1, t1, s1);
                        s2 = TOps.MultiplyAdd(u2, t2, s2);
                        s3 = TOps.MultiplyAdd(u3, t3, s3);
                    }

                    TOps.AddSumsToDouble(f0, f1, f2, f3, ref Unsafe.Add(ref a.FirstMoments, k * features + d));
                    TOps.AddSumsToDouble(s0, s1, s2, s3, ref Unsafe.Add(ref a.SecondMoments, k * features + d));
                }

                for (; d < features; d++)
                {
                    ref T xd = ref Unsafe.Add(ref a.X, (nint)d * a.Stride + start);
                    TV c = TOps.Broadcast(Unsafe.Add(ref a.Shift, k * features + d));
                    TV first = TOps.Zero;
                    TV second = TOps.Zero;
                    for (int n = 0; n < end - start; n += width)
                    {
                        TV t = TOps.Subtract(TOps.Load(ref xd, (nuint)n), c);
                        TV u = TOps.Multiply(TOps.Load(ref v0, (nuint)n), t);
                        first = TOps.Add(first, u);
                        second = TOps.MultiplyAdd(u, t, second);
                    }

                    Unsafe.Add(ref a.FirstMoments, k * features + d) += TOps.SumToDouble(first);
                    Unsafe.Add(ref a.SecondMoments, k * features + d) += TOps.SumToDouble(second);
                }
            }
        }

        if (full == points)
        {
            return;
        }

        nuint at = (nuint)(points - width);
        TV fresh = TOps.LanesFrom(width - (points - full));
        for (int k = 0; k < a.Components; k++)
        {
            TV v = TOps.Load(ref a.Responsibilities, (nuint)k * (nuint)points + at);
            if (a.Weighted)
            {
                v = TOps.Multiply(v, TOps.Load(ref a.Weights, at));
            }

            Unsafe.Add(ref a.WeightSums, k) += TOps.SumToDouble(TOps.Select(fresh, v, TOps.Zero));
            for (int d = 0; d < features; d++)
            {
                // Mask the products, not v: a ±∞ feature in an already counted lane would make 0·∞ = NaN.
                TV t = TOps.Subtract(TOps.Load(ref a.X, (nuint)d * (nuint)a.Stride + at), TOps.Broadcast(Unsafe.Add(ref a.Shift, k * features + d)));
                TV u = TOps.Multiply(v, t);
                Unsafe.Add(ref a.FirstMoments, k * features + d) += TOps.SumToDouble(TOps.Select(fresh, u, TOps.Zero));
                Unsafe.Add(ref a.SecondMoments, k * features + d) += TOps.SumToDouble(TOps.Select(fresh, TOps.Multiply(u, t), TOps.Zero));
            }
        }
    }
}
